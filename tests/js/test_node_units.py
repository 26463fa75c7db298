"""Runs the page's JavaScript unit tests (tests/js/*.test.mjs) with `node --test`, so CI runs
them with the rest of the suite. Skipped, saying why, where node is not installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def test_javascript_units_pass_under_node():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the JavaScript unit tests in tests/js need node >= 20")
    files = sorted(HERE.glob("*.test.mjs"))
    assert files, "no JavaScript unit tests found in tests/js"
    result = subprocess.run(
        [node, "--test", *[str(f.relative_to(ROOT)) for f in files]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
