"""How the page's server holds up under load: the serve command with the trained model, many requests at once.

The server is started as a user starts it (python -m mnist_dvc.apps.serve), with models/model.keras, on a free
port. One request warms it up (TensorFlow traces the model on its first call) and is not counted; then the first 500
test images, each as a PNG, are POSTed to /predict, 20 at a time. Every answer must be 200 with the label
that evaluate gave the same image (data/predictions.csv), or the benchmark fails. Measured: throughput
(answered requests per second of wall time, from the first request sent to the last answer) and each
request's latency, from sending to the whole answer read; median and 95th percentile. They depend on the
machine's cores: the model runs on one request at a time, and decoding and normalising are part of it.

With --screenshot, it also draws a digit on the page in headless Chromium and saves a screenshot.

    python -m bench.serve_load                       # about 20 s on 2 cores
    python -m bench.serve_load --screenshot docs/serve.png
"""

import argparse
import asyncio
import io
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np
from PIL import Image

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.errors import PipelineError
from mnist_dvc.core.files import write_json
from mnist_dvc.core.prepared import read_split
from mnist_dvc.core.results import read_predictions

RESULTS = Path("bench/results/serve_load.json")
# A 7 in one stroke, in the pad's own pixels (280 x 280): along the top, then down to the left.
SEVEN = [(80 + 12 * k, 70) for k in range(11)] + [(200 - 8 * k, 70 + 17 * k) for k in range(1, 11)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=paths.MODEL, help="trained model (default: %(default)s)")
    parser.add_argument("--requests", type=int, default=500, help="test images to send (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the numbers (default: %(default)s)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="also save a screenshot of the page here")


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def start_server(model: Path) -> tuple[subprocess.Popen, str]:
    """python -m mnist_dvc.apps.serve on a free port, and its URL once it listens."""
    command = [sys.executable, "-m", "mnist_dvc.apps.serve", "--model", str(model), "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line.startswith("serve: http://"):
        server.wait()
        raise PipelineError(f"the server did not start (exit {server.returncode})")
    return server, line.split()[1]


async def load(url: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], list[tuple[int, dict]]]:
    """Send every body, concurrency at a time; the wall time, each request's latency and each answer."""
    slots = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:

        async def post(body: bytes) -> tuple[float, int, dict]:
            async with slots:
                started = time.perf_counter()
                async with client.post(url + "predict", data=body) as response:
                    reply = await response.json()
                return time.perf_counter() - started, response.status, reply

        await post(bodies[0])
        started = time.perf_counter()
        results = await asyncio.gather(*(post(body) for body in bodies))
        wall = time.perf_counter() - started
    return wall, [latency for latency, _, _ in results], [(status, reply) for _, status, reply in results]


def screenshot(url: str, path: Path) -> str:
    """Draw a 7 on the page with the mouse in headless Chromium, save the page once it answered; its answer."""
    from tools.browser_check import _DevTools, find_chromium

    chromium = find_chromium()
    if chromium is None:
        raise PipelineError("chromium not found on PATH; install it (Debian: apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile, _DevTools(chromium, Path(profile)) as browser:
        session = browser.open_page(url)
        box = browser.evaluate(
            session, 'JSON.parse(JSON.stringify(document.getElementById("pad").getBoundingClientRect()))'
        )
        browser.drag(session, [(box["left"] + x, box["top"] + y) for x, y in SEVEN])
        deadline = time.monotonic() + 30
        state = "document.getElementById('answer').dataset"
        while not browser.evaluate(session, f"{state}.answers > 0 && {state}.busy === 'false'"):
            if time.monotonic() > deadline:
                raise PipelineError("the page showed no answer in 30 s")
            time.sleep(0.1)
        browser.screenshot(session, path)
        return browser.evaluate(session, f"{state}.label")


def main() -> None:
    args = parse_args(__doc__, with_params=False, add_arguments=add_arguments)
    test = read_split("test")
    expected = [test.classes[k] for k in read_predictions(paths.PREDICTIONS, test).predicted[: args.requests]]
    bodies = [png(image) for image in test.images[: args.requests]]
    server, url = start_server(args.model)
    try:
        wall, latencies, answers = asyncio.run(load(url, bodies, args.concurrency))
        drawn = screenshot(url, args.screenshot) if args.screenshot else None
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
        server.wait()
    failed = [index for index, (status, _) in enumerate(answers) if status != 200]
    disagree = [i for i, (status, reply) in enumerate(answers) if status == 200 and reply["label"] != expected[i]]
    latencies_ms = sorted(1000 * latency for latency in latencies)
    results = {
        "requests": len(bodies),
        "concurrency": args.concurrency,
        "failed": len(failed),
        "disagree_with_evaluate": len(disagree),
        "wall_s": wall,
        "requests_per_s": len(bodies) / wall,
        "latency_median_ms": statistics.median(latencies_ms),
        "latency_p95_ms": latencies_ms[int(0.95 * (len(latencies_ms) - 1))],
        "screenshot_label": drawn,
    }
    write_json(args.out, results)
    print(json.dumps(results))
    if failed or disagree:
        raise PipelineError(
            f"{len(failed)} requests failed (first: test image {failed[:1]}), {len(disagree)} answers differ from "
            f"evaluate's (first: test image {disagree[:1]})"
        )


if __name__ == "__main__":
    run_command("serve_load", main)
