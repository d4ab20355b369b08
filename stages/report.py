"""The offline page of `dvc plots show`, and a check of it in headless Chromium. Not a pipeline stage.

DVC's own page loads Vega, Vega-Lite and Vega-Embed from a CDN, so offline its charts stay blank. `install`
writes a page template with the three scripts inlined, taken from the npm packages that package-lock.json
pins, and .dvc/config names it as plots.html_template: every `dvc plots show` and `dvc plots diff` then
writes a self-contained page. `check` opens such a page in headless Chromium with the network cut off, and
fails unless every image loaded and every Vega plot drew.

    python -m stages.report install        # once per clone; returns at once when already done
    python -m stages.report check [PAGE] [--screenshot PNG]
"""

import argparse
import base64
import hashlib
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from stages.artifacts import atomic_path, write_text
from stages.cli import run_stage
from stages.errors import PipelineError

# .dvc/config names it as plots.html_template, a path that DVC resolves from .dvc/.
TEMPLATE = Path(".dvc/plots_offline.html")
LOCKFILE = Path("package-lock.json")
NODE_MODULES = Path("node_modules")
# In load order: Vega-Lite needs Vega, Vega-Embed needs both.
SCRIPTS = {
    "vega": "build/vega.min.js",
    "vega-lite": "build/vega-lite.min.js",
    "vega-embed": "build/vega-embed.min.js",
}
DEFAULT_PAGE = Path("dvc_plots/index.html")
DEFAULT_SCREENSHOT = Path(".artifacts/report.png")

# DVC fills {refresh_tag} and {plot_divs}; there is deliberately no {scripts}, where it would put its CDN tags.
PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC plots</title>
    <!-- SCRIPTS -->
    <style>
        body { font-family: sans-serif; }
        table { border-spacing: 15px; }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""
DVC_PLACEHOLDERS = ("{scripts}", "{plot_divs}", "{refresh_tag}")

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
    # Offline for real: no host name resolves, so a script from a CDN cannot load.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)
VIEWPORT = {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False}
MAX_SCREENSHOT_HEIGHT = 16000
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")

# Evaluated in the page: which Vega plots have drawn marks of non-zero size, and which images loaded.
PAGE_STATE_JS = """(vegaIds) => ({
    vegaEmbed: typeof vegaEmbed === "function",
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


class ReportError(PipelineError):
    """The offline page cannot be built, or a page does not render."""


def install(template: Path = TEMPLATE, lockfile: Path = LOCKFILE) -> bool:
    """Build the template unless it is already built from this lockfile; return whether it was built."""
    stamp = _stamp(lockfile)
    if template.is_file() and stamp in template.read_text(encoding="utf-8"):
        return False
    _npm_ci()
    write_text(template, build_page(NODE_MODULES, stamp))
    return True


def _stamp(lockfile: Path) -> str:
    """A digest of what the page is made from: the pinned packages, the files taken from them, the page around them."""
    try:
        digest = hashlib.sha256(lockfile.read_bytes() + json.dumps(SCRIPTS).encode() + PAGE.encode()).hexdigest()
    except FileNotFoundError:
        raise ReportError(f"{lockfile}: not found; run from the project root") from None
    return f"offline page {digest[:16]}"


def _npm_ci() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ReportError("npm not found on PATH; install Node.js and npm (Debian: apt-get install -y npm)")
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        capture_output=True,
        text=True,
    )
    if result.returncode:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise ReportError(f"npm ci failed with exit status {result.returncode}: {lines[-1]}")


def build_page(node_modules: Path, stamp: str) -> str:
    """The page template with each package's build inlined, so the page needs no network."""
    scripts = [f"<!-- {stamp}: built by python -m stages.report install -->"]
    for package, build in SCRIPTS.items():
        path = node_modules / package / build
        version = json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))["version"]
        scripts.append(f"<script>/* {package} {version} */\n{_inlinable(path)}\n</script>")
    return PAGE.replace("<!-- SCRIPTS -->", "\n    ".join(scripts))


def _inlinable(path: Path) -> str:
    """A script's code, checked to be safe inside <script> and from DVC's placeholder substitution."""
    try:
        code = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: not found; npm ci did not install the expected package layout") from None
    # The source map is not shipped in the page; a reference to it would only be a failed load in DevTools.
    code = re.sub(r"^//# sourceMappingURL=.*$", "", code, flags=re.MULTILINE).rstrip()
    for text in ("</script", *DVC_PLACEHOLDERS):
        if text in code.lower():
            raise ReportError(f"{path}: contains {text!r}, which cannot be inlined into the page template")
    return code


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


def check_page(page: Path, screenshot: Path | None = None, timeout: float = 60.0) -> dict[str, int]:
    """Open a page of `dvc plots show` offline in headless Chromium; raise unless every plot rendered.

    Returns the number of Vega plots and of images checked. The screenshot covers the whole page.
    """
    chromium = find_chromium()
    if chromium is None:
        raise ReportError("chromium not found on PATH; install it (Debian: apt-get install -y chromium)")
    try:
        html = page.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{page}: not found; run dvc plots show first") from None
    vega_ids = re.findall(r"vegaEmbed\('#([^']+)'", html)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, _DevTools(chromium, Path(profile)) as browser:
        session = browser.open_page(page.resolve().as_uri())
        state = _wait_for_render(browser, session, vega_ids, time.monotonic() + timeout)
        if screenshot is not None:
            browser.screenshot(session, screenshot)
        problems = [f"Vega plot {id_!r} drew nothing" for id_ in state["undrawn"]]
        problems += [f"image {image['src']!r} did not load" for image in state["images"] if not image["loaded"]]
        problems += [f"page requested {url}" for url in browser.remote_requests()]
        problems += browser.errors
    if not vega_ids and not state["images"]:
        problems.append("no plots on the page")
    if problems:
        raise ReportError(f"{page}: {len(problems)} problem(s): " + "; ".join(problems))
    return {"vega": len(vega_ids), "images": len(state["images"])}


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

    def __init__(self, chromium: str, profile: Path, timeout: float = 30.0):
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
        self._buffer = bytearray()
        self._last_id = 0
        self.events: list[dict] = []
        self.errors: list[str] = []

    def __enter__(self) -> "_DevTools":
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._write({"id": 0, "method": "Browser.close"})
            self.process.wait(timeout=10)
        except (ReportError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        os.close(self._replies)
        self._log.close()

    def _write(self, message: dict) -> None:
        try:
            os.write(self._commands, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise ReportError(f"Chromium exited: {self._last_log_line()}") from None

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._replies], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._replies, 1 << 20) if ready else None
            if chunk is None:
                raise ReportError("Chromium did not answer in time")
            if not chunk:
                raise ReportError(f"Chromium exited: {self._last_log_line()}")
            self._buffer += chunk
        end = self._buffer.index(b"\0")
        message = json.loads(self._buffer[:end])
        del self._buffer[: end + 1]
        return message

    def _last_log_line(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a command and wait for its reply, keeping the events that arrive meanwhile."""
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + self._timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise ReportError(f"Chromium refused {method}: {reply['error'].get('message')}")
                return reply["result"]
            self._note(reply)

    def _note(self, event: dict) -> None:
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
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        if "exceptionDetails" in result:
            raise ReportError(f"the page check failed: {result['exceptionDetails']['text']}")
        return result["result"]["value"]

    def screenshot(self, session: str, path: Path) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help=f"build {TEMPLATE} from the npm packages of {LOCKFILE}")
    check = commands.add_parser("check", help="render a page of dvc plots show in headless Chromium, offline")
    check.add_argument("page", nargs="?", type=Path, default=DEFAULT_PAGE, help="the page (default: %(default)s)")
    check.add_argument(
        "--screenshot",
        type=Path,
        default=DEFAULT_SCREENSHOT,
        help="where to save a screenshot of the whole page (default: %(default)s)",
    )
    args = parser.parse_args()
    if args.command == "install":
        built = install()
        print(f"report: {'built' if built else 'up to date:'} {TEMPLATE}, the offline page of dvc plots show")
    else:
        counts = check_page(args.page, args.screenshot)
        print(
            f"report: {args.page}: {counts['vega']} Vega plots drew, {counts['images']} images loaded; "
            f"screenshot: {args.screenshot}"
        )


if __name__ == "__main__":
    run_stage("report", main)
