"""The built wheel is complete and works on its own: it holds every file of ``src/paperboy``
(templates, mail templates, static files and vendored scripts, migrations, demo data), and,
installed into a clean virtual environment, imports demo data and renders a digest (text and
HTML parts) and a page without the source tree.

The wheel is built from a copy of the project's files (what git tracks, plus new files it does
not ignore), so the build writes nothing into the checkout. The new environment gets the
wheel with ``--no-deps``; its dependencies come from this environment's site-packages, named
by a path line in a ``.pth`` file: such a directory is only put on ``sys.path``, its own
``.pth`` files are not run, so the editable install of paperboy there is not picked up (and
the script checks that paperboy is imported from the new environment).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TITLES = {
    "2611.07001": "Wheel-packed attention for tiny parsers",
    "2611.07002": "Vendored fonts considered helpful",
}
ADDRESS = "reader@example.org"


def _project_files() -> list[str]:
    """The project's files as a commit would hold them: tracked ones still present, and new
    ones git does not ignore."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout to know the project's files")
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listing.split("\0") if name and (ROOT / name).is_file()})


@pytest.fixture(scope="module")
def project_files() -> list[str]:
    return _project_files()


@pytest.fixture(scope="module")
def wheel(project_files: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built offline (no build isolation) from a copy of the project's files."""
    pytest.importorskip("setuptools", reason="builds the wheel with this environment's setuptools")
    source = tmp_path_factory.mktemp("source")
    for name in project_files:
        if name in ("pyproject.toml", "README.md") or name.startswith("src/"):
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["-q", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (built,) = dist.glob("paperboy-*.whl")
    return built


def test_the_wheel_holds_every_file_of_the_package(wheel: Path, project_files: list[str]) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    package = [name for name in project_files if name.startswith("src/paperboy/")]
    data = [name for name in package if not name.endswith(".py")]
    # The files this test exists for: if the layout moved, the check below would pass vacuously.
    assert any("/templates/mail/" in name and name.endswith(".txt") for name in data)
    assert any("/static/vendor/katex/fonts/" in name for name in data)
    assert any(name.endswith(".jsonl.gz") for name in data)
    missing_data = [name for name in data if name.removeprefix("src/") not in names]
    assert not missing_data, (
        "non-Python files missing from the wheel (add their patterns to "
        f"[tool.setuptools.package-data] in pyproject.toml): {missing_data}"
    )
    # Python modules too: a new folder without __init__.py is not found by packages.find.
    code = [name for name in package if name.endswith(".py")]
    missing_code = [name for name in code if name.removeprefix("src/") not in names]
    assert not missing_code, f"modules missing from the wheel: {missing_code}"
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    )
    assert b"paperboy = paperboy." in entry_points


# Run by the new environment's python, with cwd = the test's tmp_path.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    here = Path(sys.argv[1]).resolve()
    import paperboy
    # Imported from the wheel in the new environment, not from the source tree.
    assert Path(paperboy.__file__).resolve().is_relative_to(here / "venv"), paperboy.__file__
    assert not any("__editable__" in type(f).__module__ for f in sys.meta_path), sys.meta_path

    from paperboy.settings import Settings
    from paperboy.store import open_store

    settings = Settings()
    store = open_store(settings.database_url)
    store.subscriptions.create(sys.argv[2], frequency="weekly", confirmed=True)
    papers = store.count_papers()
    store.close()

    from fastapi.testclient import TestClient
    from paperboy.web.app import create_app

    pages = {}
    with TestClient(create_app(settings)) as client:
        for path in ("/", "/static/style.css", "/static/vendor/katex/katex.min.js"):
            response = client.get(path)
            pages[path] = [response.status_code, response.text[:200000]]
    print(json.dumps({"papers": papers, "pages": pages}))
    """
)


def _clean_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed without dependencies; the
    dependencies importable from this environment's site-packages. Returns its bin folder."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        + ["--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    ours = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    # A path line only puts the folder on sys.path: the .pth files in it (the editable
    # paperboy's among them) are not run. Those are still there, and must stay inert.
    for folder in deps:
        assert Path(folder).resolve() != ROOT / "src"
    Path(ours, "_paperboy_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    return venv / "bin"


def test_the_installed_wheel_renders_a_digest_without_the_source_tree(
    wheel: Path, tmp_path: Path
) -> None:
    bin_dir = _clean_venv(tmp_path, wheel)
    today = datetime.now(UTC).date()
    papers = tmp_path / "today.jsonl"
    papers.write_text(
        "".join(
            json.dumps(
                {
                    "id": pid,
                    "title": title,
                    "abstract": "An abstract about packaging.",
                    "authors": ["Ada Lovelace"],
                    "published_at": f"{today.isoformat()}T08:00:00.000Z",
                    "daily_date": today.isoformat(),
                    "upvotes": 50 - n,
                }
            )
            + "\n"
            for n, (pid, title) in enumerate(TITLES.items())
        )
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV")) and key != "PAPERBOY_DATABASE_URL"
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        NO_COLOR="1",
        COLUMNS="200",
        PAPERBOY_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
        PAPERBOY_BASE_URL="https://papers.example.org",
        PAPERBOY_SEMANTIC_SEARCH="0",
        PAPERBOY_EMBED_AFTER_INGEST="0",
        PAPERBOY_DIGEST_WEEKLY_DAY=("mon", "tue", "wed", "thu", "fri", "sat", "sun")[
            today.weekday()
        ],
    )

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done

    paperboy = bin_dir / "paperboy"
    assert paperboy.exists(), "the wheel installs no `paperboy` console script"
    # The demo data set (and its precomputed vectors) shipped inside the wheel, then today's.
    demo = run(paperboy, "import", "--demo")
    assert "precomputed demo embeddings" in demo.stderr, demo.stderr
    run(paperboy, "import", papers)
    script = tmp_path / "check_install.py"
    script.write_text(SCRIPT)
    checked = json.loads(run(bin_dir / "python", script, tmp_path, ADDRESS).stdout)
    assert checked["papers"] > len(TITLES)
    for path, (status, _body) in checked["pages"].items():
        assert status == 200, f"{path}: {status}"
    assert TITLES["2611.07001"] in checked["pages"]["/"][1]

    run(paperboy, "digest", "preview", ADDRESS, "--out", tmp_path / "digest.eml")
    message = message_from_bytes((tmp_path / "digest.eml").read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    assert text_part is not None and html_part is not None, message.as_string()[:2000]
    text, html = text_part.get_content(), html_part.get_content()
    for title in TITLES.values():
        assert title in text, text
        assert title in html, html
    assert "https://papers.example.org/unsubscribe?token=" in text
    assert "<html" in html.lower() and "style=" in html  # the mail template, CSS inlined
