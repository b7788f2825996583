// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // KaTeX's options for every formula on the site: comments, titles and abstracts are text
  // anyone can write, so sizes are capped (\rule{3000em}{3000em} draws at most 5em a side),
  // macro expansion is bounded, commands that need trust (\href, \url, \includegraphics,
  // \htmlClass...) are refused, and a bad formula shows as an error, never an exception.
  var MATH_OPTIONS = {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false }
    ],
    maxSize: 5,
    maxExpand: 200,
    trust: false,
    strict: "ignore",
    throwOnError: false
  };

  function renderMath(root) {
    if (typeof window.renderMathInElement !== "function") return;
    var scope = root || document;
    var found = Array.prototype.slice.call(scope.querySelectorAll(".tex"));
    if (scope.classList && scope.classList.contains("tex")) found.unshift(scope);
    found.forEach(function (el) {
      window.renderMathInElement(el, MATH_OPTIONS);
    });
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  function setupCopyButtons() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) return;
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        copyText(target.textContent).then(
          function () { button.textContent = "Copied"; },
          function () { button.textContent = "Press Ctrl+C"; selectText(target); }
        ).then(function () {
          window.setTimeout(function () { button.textContent = label; }, 2000);
        });
      });
    });
  }

  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  renderMath();
  setupCopyButtons();
  // Content swapped in by htmx (e.g. the comments section) gets its math rendered too: the
  // event fires on each newly swapped element.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target instanceof Element) renderMath(event.target);
  });
})();
