"""The package as a user installs it: a wheel with the page inside, imported as backprop_viz,
served by `backprop-viz serve` and by `uvicorn backprop_viz.main:app` from any directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))
from harness import free_port, stop_server, wait_for_health  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_lists_every_subpackage_of_app():
    """setuptools maps app/ to backprop_viz by an explicit list: a new sub-package must be in it,
    or the wheel silently lacks it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        "backprop_viz" + ".".join(("", *p.parent.relative_to(ROOT / "app").parts))
        for p in (ROOT / "app").rglob("__init__.py")
    }
    assert on_disk <= listed, f"add to pyproject.toml: {sorted(on_disk - listed)}"
    assert config["package-dir"]["backprop_viz"] == "app"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the source (setuptools writes build/ beside the source it builds)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("app", "static", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("backprop_viz-*.whl")
    return path


def test_wheel_carries_the_page_and_no_top_level_app(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "backprop_viz/__init__.py",
        "backprop_viz/main.py",
        "backprop_viz/core/layers.py",
        "backprop_viz/templates/index.html",
        "backprop_viz/static/js/main.js",
        "backprop_viz/static/css/app.css",
        "backprop_viz/static/vendor/dagre.esm.js",
        "backprop_viz/static/vendor/dagre.LICENSE",
        "backprop_viz/static/vendor/uplot/uPlot.esm.js",
        "backprop_viz/static/vendor/uplot/uPlot.min.css",
        "backprop_viz/static/vendor/uplot/LICENSE",
        "backprop_viz/static/js/app/training-panel.js",
    ):
        assert needed in names, needed
    assert not any(n.startswith(("app/", "static/", "templates/", "tests/")) for n in names)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel (and its dependencies) installed."""
    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=True)
    subprocess.run(
        [
            env_dir / "bin/python",
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return env_dir


def _serve(command: list[str], cwd: Path) -> None:
    """Start the command (which must listen on the port it is given), fetch the page and one of
    its scripts, stop it."""
    port = free_port()
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("BPV_")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, timeout=60)
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "backprop-viz" in page.text
        script = httpx.get(url + "/static/js/main.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith(
            ("text/javascript", "application/javascript")
        )
        trace = httpx.post(url + "/api/trace", json={"example": "apple"})
        assert trace.status_code == 200 and trace.json()["values"]["price"] == 220.00000000000003
    finally:
        stop_server(process)


def test_installed_wheel_imports_and_serves_from_another_directory(installed, tmp_path):
    python = installed / "bin/python"
    out = subprocess.run(
        [python, "-c", "import backprop_viz, sys; print(backprop_viz.__file__)"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert str(installed) in out, out
    _serve([str(installed / "bin/backprop-viz"), "serve", "--host", "127.0.0.1"], tmp_path)


def test_installed_wheel_runs_under_uvicorn_module_app(installed, tmp_path):
    _serve(
        [str(installed / "bin/uvicorn"), "backprop_viz.main:app", "--host", "127.0.0.1"], tmp_path
    )
