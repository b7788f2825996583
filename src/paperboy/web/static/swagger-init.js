// Starts Swagger UI on /api/docs (web/apidocs.py). An external file, not an inline script, so
// the Content-Security-Policy holds; the schema's URL comes from the page.
(function () {
  "use strict";
  window.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("swagger-ui");
    if (!root || typeof window.SwaggerUIBundle !== "function") return;
    window.ui = window.SwaggerUIBundle({
      url: root.getAttribute("data-openapi-url"),
      domNode: root,
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      validatorUrl: null, // the default validator is a third-party server
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    });
  });
})();
