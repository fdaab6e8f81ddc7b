"""Headless Chromium (Debian's ``chromium``) driven by Playwright, and a JupyterLab to open.

Every test here is marked ``browser``. Without chromium or Playwright they are skipped,
except under ``CI=true``, where a missing browser is an error: CI installs both
(``apt-get install chromium``, ``pip install -e '.[test,browser]'``). Playwright's own
browser download is never used: the browser is launched from ``executable_path``.
Screenshots go to ``test-artifacts/browser/`` at the top of the repository.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.notebook.committed import python3_kernel

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
IN_CI = os.environ.get("CI") == "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.timeout(240))


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    pytest.skip(reason)


def chromium_path() -> str:
    """Debian's chromium, or skip (fail under CI)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing("chromium is not installed: apt-get install chromium")
    return str(path)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium, launched from the system's binary.

    Module-scoped on purpose: Playwright's sync API keeps an event loop running in this
    thread while it is open, which the asyncio tests of other modules must not meet.
    """
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install -e '.[browser]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; its screenshot is saved under test-artifacts/browser/ at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(f"{error}\n{error.stack}"))
    opened.errors = errors
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}-end.png"), full_page=True)
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot of ``page`` as test-artifacts/browser/``name``.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Lab:
    """A JupyterLab server on 127.0.0.1 serving ``root``."""

    url: str
    token: str
    root: Path

    def open(self, page: Any, notebook: str) -> None:
        """Open ``notebook`` (a path under root) and wait until the app and the file are ready."""
        page.goto(f"{self.url}/lab/tree/{notebook}?token={self.token}")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell"
                               " && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.context",
                               timeout=90_000)
        page.evaluate("() => window.jupyterapp.shell.currentWidget.context.ready")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab with a token, its kernel running this interpreter (and this stagekit)."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _missing("jupyterlab is not installed: pip install -e '.[browser]'")
    root = tmp_path_factory.mktemp("lab")
    config = tmp_path_factory.mktemp("lab-config")
    # Every cell in the DOM (no windowing), so a test finds outputs below the fold too.
    tracker = config / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    token = secrets.token_hex(16)
    port = _free_port()
    with python3_kernel():
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_NO_CONFIG": "1",
               "JUPYTER_RUNTIME_DIR": str(config / "runtime")}
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             "--LabApp.expose_app_in_browser=True", "--allow-root",
             "--LabApp.extension_manager=readonly",
             f"--LabApp.user_settings_dir={config / 'settings'}",
             f"--LabApp.workspaces_dir={config / 'workspaces'}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in process.stderr],
                         daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        seen: list[str] = []
        deadline = time.monotonic() + 120
        while not any(f"127.0.0.1:{port}/lab" in line for line in seen):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("JupyterLab did not start:\n" + "".join(seen[-30:]))
            try:  # the server says when it listens
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        for attempt in range(60):  # it prints its URL just before its loop starts serving
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=10) as r:
                    assert r.status == 200
                break
            except OSError as exc:
                if attempt == 59 or process.poll() is not None:
                    process.kill()
                    pytest.fail(f"JupyterLab does not answer at {url}: {exc}\n"
                                + "".join(seen[-30:]))
                with contextlib.suppress(queue.Empty):
                    seen.append(lines.get(timeout=0.5))
        try:
            yield Lab(url, token, root)
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
