"""A real JupyterLab server and a real (Debian) Chromium for the browser tests.

The server listens on 127.0.0.1 on a free port with a random token, and uses its own Jupyter config, data
and runtime folders, so nothing on the machine (or the user's settings) changes what the test sees.
Chromium is driven by Playwright with the system browser: no browser is downloaded.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def page_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


# JupyterLab settings for the test user: render every cell (JupyterLab 4 otherwise draws only the cells
# in view, which would hide outputs from the checks) and never ask about news or updates.
TEST_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}


def write_settings(folder: Path, settings: dict) -> None:
    for name, values in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


# With the test settings, the page does not ask the server whether JupyterLab's build is up to date: every page load
# asked (GET /lab/api/build), and each answer ran node (yarn config, about 0.7 s of CPU a page) and compared the
# extensions, for a dialog these tests would fail on and never saw. The learner's and the instructor's set-ups
# (tests with their own ``settings``) keep the check as they have it.
TEST_PAGE_CONFIG = {"buildCheck": False, "buildAvailable": False, "exposeAppInBrowser": True}


def lab_home_env(home: Path, env: dict | None = None, settings: dict | None = None) -> dict:
    """``env`` (default: this process's) with Jupyter's config, data and runtime folders in ``home`` and the
    test user's JupyterLab ``settings`` (default: TEST_SETTINGS, and TEST_PAGE_CONFIG) written there."""
    home.mkdir(parents=True, exist_ok=True)
    write_settings(home / "config" / "lab" / "user-settings", TEST_SETTINGS if settings is None else settings)
    if settings is None:
        write_settings(home / "config" / "labconfig", {"page_config.json": TEST_PAGE_CONFIG})
    return {**(os.environ if env is None else env),
            "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def server_args(token: str) -> list[str]:
    # Port 0: the server binds a free port itself (a port picked here first could be taken before it binds: the
    # other xdist process's servers and kernels take ports too); start_lab reads which from its runtime file.
    return ["--no-browser", "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


def start_lab(root: Path, home: Path, extra_args: list[str] = (), env: dict | None = None,
              settings: dict | None = None, command: list[str] | None = None, cwd: Path | None = None) -> LabServer:
    """Start JupyterLab on ``root``; ``env`` replaces the environment (e.g. cnnbook.lab's set-ups) and
    ``settings`` the test user's JupyterLab settings (default: TEST_SETTINGS). ``command`` replaces
    ``python -m jupyterlab --ServerApp.root_dir=root`` (e.g. ``python -m cnnbook.lab``, which picks its own
    root); the server's address, port and token are added to it either way."""
    token = secrets.token_hex(16)
    env = lab_home_env(home, env, settings)
    log = home / "lab.log"
    if command is None:
        command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}"]
    process = subprocess.Popen([*command, *server_args(token), *extra_args],
                               env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=cwd or root)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited at start:\n{log.read_text()[-3000:]}")
        port = _port_of(Path(env["JUPYTER_RUNTIME_DIR"]), token)
        try:
            if port is None:
                raise OSError("not listening yet")
            url = f"http://127.0.0.1:{port}"
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return LabServer(url, token, root, process, log)
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"JupyterLab did not answer within 90 s:\n{log.read_text()[-3000:]}")


def _port_of(runtime: Path, token: str) -> int | None:
    """The port of the server started with ``token``, from the file a Jupyter server writes in its runtime folder once
    it listens (jpserver-<pid>.json); None before that."""
    for path in runtime.glob("jpserver-*.json"):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue                    # being written, or an earlier server's being removed
        if info.get("token") == token and info.get("port"):
            return int(info["port"])
    return None


def run_all_cells(page, timeout_ms: int = 240_000) -> None:
    """Run every cell through Run > Run All Cells; return when every code cell has run and the kernel is idle.

    A Run All sent before the kernel has connected is dropped by JupyterLab, so it is sent again until the
    first cell starts.
    """
    start_run_all(page)
    wait_run_all(page, timeout_ms)


def wait_run_all(page, timeout_ms: int = 240_000) -> None:
    """Return when every code cell of a Run All (``start_run_all``) has run and the kernel is idle; past the time,
    fail saying where the run stood (the first cell that has not run, what it shows, the kernel's state)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            r"""() => {
                const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
                return prompts.length > 0 && prompts.every(p => /\[\d+\]/.test(p.textContent));
            }""", timeout=timeout_ms, polling=500)
    except PlaywrightTimeout:
        stood = page.evaluate(r"""() => {
            const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
            const k = cells.findIndex(c => !/\[\d+\]/.test(c.querySelector('.jp-InputPrompt')?.textContent ?? ''));
            const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const at = cells[k];
            return {code_cell: k, of: cells.length, prompt: at?.querySelector('.jp-InputPrompt')?.textContent ?? '',
                    source: (at?.querySelector('.jp-InputArea-editor')?.textContent ?? '').slice(0, 300),
                    before: (k > 0 ? cells[k - 1].querySelector('.jp-OutputArea')?.textContent ?? '' : '').slice(-600),
                    kernel: indicator ? indicator.getAttribute('data-status') : 'unknown'};
        }""")
        raise AssertionError(f"Run All did not finish in {timeout_ms / 1000:.0f} s: {stood}") from None
    wait_kernel_idle(page, timeout_ms)


def start_run_all(page) -> None:
    """Run > Run All Cells, sent again until the first cell starts (see ``run_all_cells``)."""
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=60_000)
    started, began, last = False, time.monotonic(), "nothing"
    # Up to 4 minutes for a kernel on a loaded machine (10 others may be open), by the clock: answering a kernel
    # dialog takes a second, and counted as an attempt, a dialog shown again and again once used every attempt up
    # in 40 s ("never started ... after 40 s").
    while time.monotonic() - began < 240:
        wait_kernel_ready(page, 60)
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            text = dialog.first.inner_text()
            if "Select Kernel" in text and "Python 3" in text:
                # Under load JupyterLab sometimes asks before its kernel list has arrived; the
                # notebook's own kernel (Python 3) is preselected, as a learner would accept it.
                dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()
                last = "a Select Kernel dialog, accepted"
                page.wait_for_timeout(2000)
                continue
            raise AssertionError(f"JupyterLab shows a dialog instead of running: {text[:500]}")
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(
                r"""() => {
                    const p = document.querySelector('.jp-Notebook .jp-CodeCell .jp-InputPrompt');
                    return p && /\[(\*|\d+)\]/.test(p.textContent);
                }""", timeout=10_000, polling=200)
            started = True
            break
        except Exception as err:  # noqa: BLE001 - the kernel was not ready yet; ask again
            last = f"{type(err).__name__}: {str(err)[:300]}"
            continue
    if not started:
        raise AssertionError(f"Run All Cells never started the first cell (is the kernel starting?) "
                             f"after {time.monotonic() - began:.0f} s; the last wait ended with {last}")


def wait_kernel_ready(page, seconds: float) -> None:
    """Wait until the shown notebook is loaded and its kernel connected and idle (read from JupyterLab's own
    session, ``window.jupyterapp``: the test lab's page config exposes it), or a dialog asks something; give up
    quietly after ``seconds``. Before that JupyterLab drops a Run All, or runs part of one sent while its kernel
    starts; its toolbar's execution indicator says idle all the same."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            r"""() => {
                if (document.querySelector('.jp-Dialog')) return true;
                const panel = window.jupyterapp?.shell?.currentWidget;
                const kernel = panel?.sessionContext?.session?.kernel;
                return Boolean(panel?.context?.isReady && kernel && kernel.connectionStatus === 'connected'
                               && kernel.status === 'idle');
            }""", timeout=seconds * 1000, polling=250)
    except PlaywrightTimeout:
        pass


def wait_kernel_idle(page, timeout_ms: int) -> None:
    page.wait_for_function(
        """() => {
            const el = document.querySelector('.jp-Notebook-ExecutionIndicator');
            return el && el.getAttribute('data-status') === 'idle';
        }""", timeout=timeout_ms, polling=250)
