"""End-to-end fixtures: a real server in a subprocess, Debian's Chromium, and a page that fails
its test on any browser console error and leaves a screenshot behind when a test fails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness import CHROMIUM, CHROMIUM_ARGS, running_server

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def server_url():
    """The base URL of a server started for the whole session and stopped after it."""
    with running_server() as url:
        yield url


@pytest.fixture(scope="session")
def base_url(server_url):
    """pytest-playwright resolves page.goto("/") against this."""
    return server_url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, headless, with nothing that talks to the network on its own."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def console_errors():
    """Console errors and uncaught exceptions of the page; a test that provokes one on purpose
    removes it from this list."""
    return []


@pytest.fixture
def page(page, request, console_errors):
    """The page, watched: any console error fails the test; a failed test leaves a screenshot."""
    page.on(
        "console",
        lambda message: console_errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    page.set_default_timeout(10_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is None or report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as error:  # the page may already be gone; the failure matters more
            print(f"no screenshot for {name}: {error}")
    if console_errors:
        pytest.fail("browser console errors:\n" + "\n".join(console_errors))
