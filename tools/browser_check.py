"""A check of a page of `dvc plots show` in headless Chromium, offline: does every plot render?

A page can look fine on a developer's machine and be blank offline: DVC's default page loads Vega from a
CDN. This tool opens a page in headless Chromium with host name resolution cut off, and fails unless every
image loaded, every Vega plot drew marks, nothing was requested from the network and nothing is drawn beyond
the window's width (no sideways scrolling); it also saves a screenshot of the whole page. It speaks the Chrome
DevTools Protocol over a pipe, so it needs Chromium but no Python package beyond the standard library.

    dvc plots show && python -m tools.browser_check [PAGE] [--screenshot PNG]
"""

import argparse
import base64
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.errors import PipelineError
from mnist_dvc.core.files import atomic_path

DEFAULT_PAGE = Path("dvc_plots/index.html")
DEFAULT_SCREENSHOT = Path(".artifacts/dvc_plots.png")

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    # Shared memory in /tmp, not /dev/shm, which a container may make too small (64 MB in Docker's default).
    "--disable-dev-shm-usage",
    # Offline for real: no host name resolves, so a script from a CDN cannot load; only this machine answers.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-pipe",
)
VIEWPORT = {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False}
MAX_SCREENSHOT_HEIGHT = 16000
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")

# Evaluated in the page: which Vega plots have drawn marks of non-zero size, which images loaded, and how far right
# anything is drawn (beyond the window, the page or a box in it scrolls sideways).
PAGE_STATE_JS = """(vegaIds) => ({
    vegaEmbed: typeof vegaEmbed === "function",
    width: Math.max(document.documentElement.scrollWidth, ...[...document.querySelectorAll("img, canvas, svg")].map(
        (element) => Math.ceil(element.getBoundingClientRect().right))),
    undrawn: vegaIds.filter((id) => {
        const marks = document.getElementById(id)?.querySelectorAll("canvas.marks, svg.marks") ?? [];
        return ![...marks].some((mark) => {
            const box = mark.getBoundingClientRect();
            return box.width > 0 && box.height > 0;
        });
    }),
    images: [...document.images].map((image) => ({
        src: image.getAttribute("src"), complete: image.complete, loaded: image.naturalWidth > 0,
    })),
})"""


class BrowserCheckError(PipelineError):
    """Chromium is missing or misbehaves, or a page does not render every plot offline."""


def find_chromium() -> str | None:
    """The first Chromium (or Chrome) on PATH, under the names Debian, Ubuntu and Google give it."""
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def check_page(page: Path, screenshot: Path | None = None, timeout: float = 60.0) -> dict[str, int]:
    """Open a page of `dvc plots show` offline in headless Chromium; raise unless every plot rendered.

    Returns the number of Vega plots and of images checked. The screenshot covers the whole page.
    """
    vega_ids = re.findall(r"vegaEmbed\('#([^']+)'", _read_page(page))
    chromium = find_chromium()
    if chromium is None:
        raise BrowserCheckError("chromium not found on PATH; install it (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, _DevTools(chromium, Path(profile)) as browser:
        session = browser.open_page(page.resolve().as_uri())
        state = _wait_for_render(browser, session, vega_ids, time.monotonic() + timeout)
        if screenshot is not None:
            browser.screenshot(session, screenshot)
        problems = _problems(state, vega_ids, browser)
    if problems:
        raise BrowserCheckError(f"{page}: {len(problems)} problem(s): " + "; ".join(problems))
    return {"vega": len(vega_ids), "images": len(state["images"])}


def _read_page(page: Path) -> str:
    try:
        return page.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BrowserCheckError(f"{page}: not found; run dvc plots show first") from None


def _problems(state: dict, vega_ids: list[str], browser: "_DevTools") -> list[str]:
    """Everything that would make the page show less than it should, offline, one short phrase each."""
    problems = [f"Vega plot {id_!r} drew nothing" for id_ in state["undrawn"]]
    problems += [f"image {image['src']!r} did not load" for image in state["images"] if not image["loaded"]]
    problems += [f"page requested {url}" for url in browser.remote_requests()]
    if state["width"] > VIEWPORT["width"]:
        problems.append(f"the page is drawn {state['width']} px wide, wider than the {VIEWPORT['width']} px window")
    problems += browser.errors
    if not vega_ids and not state["images"]:
        problems.append("no plots on the page")
    return problems


def _wait_for_render(browser: "_DevTools", session: str, vega_ids: list[str], deadline: float) -> dict:
    """Poll the loaded page until every Vega plot drew and every image settled, or until the deadline.

    Without Vega-Embed, as when its script could not load, nothing will ever draw: no use waiting.
    """
    expression = f"({PAGE_STATE_JS})({json.dumps(vega_ids)})"
    while True:
        state = browser.evaluate(session, expression)
        settled = not state["undrawn"] and all(image["complete"] for image in state["images"])
        if settled or not state["vegaEmbed"] or time.monotonic() > deadline:
            return state
        time.sleep(0.2)


class _DevTools:
    """Just enough of the Chrome DevTools Protocol, spoken over --remote-debugging-pipe.

    Chromium reads commands on its fd 3 and writes replies and events on its fd 4, one JSON object per
    message, each ending in a NUL byte. No WebSocket and no extra package are needed.
    """

    def __init__(self, chromium: str, profile: Path, timeout: float = 30.0, startup_timeout: float = 120.0) -> None:
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        self._log = open(profile / "chromium.log", "w+b")  # noqa: SIM115 (closed in __exit__)

        def onto_fds_3_and_4() -> None:
            # commands_read < replies_write, so the first dup2 cannot overwrite the second's source;
            # dup2 onto the same fd keeps close-on-exec, hence set_inheritable.
            for source, target in ((commands_read, 3), (replies_write, 4)):
                os.dup2(source, target)
                os.set_inheritable(target, True)

        # Only inheritable fds pass to Chromium, and Python's own are not: just stdio and fds 3 and 4.
        self.process = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=onto_fds_3_and_4,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._timeout = timeout
        self._startup_timeout = startup_timeout
        self._buffer = bytearray()
        self._last_id = 0
        self.events: list[dict] = []
        self.errors: list[str] = []

    def __enter__(self) -> "_DevTools":
        # A first start on a new machine, or on a busy one, can take far longer than any later command.
        try:
            self.send("Browser.getVersion", timeout=self._startup_timeout)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._write({"id": 0, "method": "Browser.close"})
            self.process.wait(timeout=10)
        except (BrowserCheckError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)
        self._log.close()

    def _write(self, message: dict) -> None:
        try:
            os.write(self._commands, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise BrowserCheckError(f"Chromium exited: {self._last_log_line()}") from None

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._replies, 1 << 20) if ready else None
            if chunk is None:
                raise BrowserCheckError(f"Chromium did not answer in time; its log ends: {self._last_log_line()}")
            if not chunk:
                raise BrowserCheckError(f"Chromium exited: {self._last_log_line()}")
            self._buffer += chunk
        end = self._buffer.index(b"\0")
        message = json.loads(self._buffer[:end])
        del self._buffer[: end + 1]
        return message

    def _last_log_line(self) -> str:
        # Read through a handle of its own: Chromium may still be writing through the shared offset of self._log.
        lines = Path(self._log.name).read_bytes().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout: float | None = None
    ) -> dict:
        """Send a command and wait for its reply (timeout: the usual one), keeping the events that arrive meanwhile."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + (timeout or self._timeout)
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise BrowserCheckError(f"Chromium refused {method}: {reply['error'].get('message')}")
                return reply["result"]
            self._note(reply)

    def _note(self, event: dict) -> None:
        """Keep an event; an uncaught script error or a console error is a problem of the page."""
        self.events.append(event)
        params = event.get("params", {})
        if event.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details["text"]
            self.errors.append(f"script error: {description.splitlines()[0]}")
        elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console error: " + " ".join(str(arg.get("value", "")) for arg in params["args"]))

    def open_page(self, url: str) -> str:
        """Open url in a new tab of the viewport's size, wait for its load event, return the tab's session."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Network.enable", "Runtime.enable"):
            self.send(method, session=session)
        self.send("Emulation.setDeviceMetricsOverride", VIEWPORT, session)
        self.send("Page.navigate", {"url": url}, session)
        deadline = time.monotonic() + self._timeout
        while not any(event.get("method") == "Page.loadEventFired" for event in self.events):
            self._note(self._read(deadline))
        return session

    def evaluate(self, session: str, expression: str) -> dict:
        """The value of a JavaScript expression in the page; one that throws is a bug of this check, not the page."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise BrowserCheckError(f"the page check failed: {result['exceptionDetails']['text']}")
        return result["result"]["value"]

    def drag(self, session: str, points: list[tuple[float, float]]) -> None:
        """Press the left mouse button at the first point, move through the others, release at the last:
        real input events, as a hand with a mouse makes them (pointerdown, pointermove..., pointerup)."""
        for kind, (x, y) in zip(
            ["mousePressed", *["mouseMoved"] * (len(points) - 2), "mouseReleased"], points, strict=True
        ):
            event = {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1}
            self.send("Input.dispatchMouseEvent", event, session)

    def screenshot(self, session: str, path: Path) -> None:
        """Save the whole page, not just the viewport, as PNG; at most MAX_SCREENSHOT_HEIGHT pixels tall."""
        size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": size["width"],
            "height": min(size["height"], MAX_SCREENSHOT_HEIGHT),
            "scale": 1,
        }
        params = {"format": "png", "captureBeyondViewport": True, "clip": clip}
        data = self.send("Page.captureScreenshot", params, session)["data"]
        with atomic_path(path) as temp:
            temp.write_bytes(base64.b64decode(data))

    def remote_requests(self) -> list[str]:
        """URLs the page asked for beyond the local file system: each one a dependency on the network."""
        urls = (
            event["params"]["request"]["url"]
            for event in self.events
            if event.get("method") == "Network.requestWillBeSent"
        )
        return [url for url in urls if not url.startswith(LOCAL_SCHEMES)]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "page", nargs="?", type=Path, default=DEFAULT_PAGE, metavar="PAGE", help="the page (default: %(default)s)"
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        default=DEFAULT_SCREENSHOT,
        help="where to save a screenshot of the whole page (default: %(default)s)",
    )


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0], with_params=False, add_arguments=_add_arguments)
    counts = check_page(args.page, args.screenshot)
    print(
        f"browser_check: {args.page}: {counts['vega']} Vega plots drew, {counts['images']} images loaded, "
        f"offline; screenshot: {args.screenshot}"
    )


if __name__ == "__main__":
    run_command("browser_check", main)
