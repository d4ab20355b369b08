"""The page of python -m mnist_dvc.apps.serve in headless Chromium: digits drawn on the canvas with real mouse events,
and an uploaded file, get the answers that predict gives, with everything loaded from the local server.

Where Chromium is missing the tests skip, saying why; in CI (CI=true) they fail instead. With MNIST_SCREENSHOT_DIR
set, a screenshot of the page after a drawn digit is saved there as serve.png.
"""

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytest.importorskip("keras")

from mnist_dvc.apps import predict as predict_app  # noqa: E402
from mnist_dvc.apps.images import read_image, to_mnist  # noqa: E402
from tests.helpers.browser import skip_or_fail_in_ci  # noqa: E402
from tests.helpers.drawn import draw  # noqa: E402
from tests.helpers.project import DEFAULT_SIGNALS, PROJECT_ROOT, project_env  # noqa: E402
from tools import browser_check  # noqa: E402

SCREENSHOT_DIR_ENV = "MNIST_SCREENSHOT_DIR"
PAD = 280  # the canvas's size on the page, in CSS pixels

# Evaluated in the page: the answer shown, once every request sent has been answered.
ANSWER_JS = """(() => {
    const answer = document.getElementById("answer");
    const seen = document.getElementById("seen").getContext("2d").getImageData(0, 0, 28, 28).data;
    return {
        busy: answer.dataset.busy === "true",
        answers: Number(answer.dataset.answers),
        label: answer.dataset.label ?? null,
        status: document.getElementById("status").textContent,
        top: [...document.querySelectorAll("#top li")].map((row) => [
            row.querySelector(".name").textContent, row.querySelector(".value").textContent,
        ]),
        seen: [...seen].filter((_, index) => index % 4 === 0),
    };
})()"""


def strokes(digit: str) -> list[tuple[float, float]]:
    """A path across the pad, in its own pixels, that draws the digit in one stroke."""
    if digit == "1":
        return [(PAD / 2, 50 + 180 * step / 15) for step in range(16)]
    if digit == "0":
        return [(PAD / 2 + 55 * math.sin(a), PAD / 2 - 90 * math.cos(a)) for a in (k * math.pi / 20 for k in range(41))]
    raise ValueError(digit)


@pytest.fixture(scope="module")
def served(drawn_model):
    """The server on a free port, with a tiny model of drawn 0s, 1s and 7s; its URL and the model's path."""
    if browser_check.find_chromium() is None:
        skip_or_fail_in_ci("serve page check", "Chromium is not installed (Debian: apt-get install -y chromium)")
    command = [sys.executable, "-m", "mnist_dvc.apps.serve", "--model", str(drawn_model), "--port", "0"]
    server = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=project_env(), stdout=subprocess.PIPE, text=True, **DEFAULT_SIGNALS
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("serve: http://127.0.0.1:"), line
        yield line.split()[1], drawn_model
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0 and server.stdout.read().endswith("loaded; answering\nserve: stopped\n")


@pytest.fixture(scope="module")
def page(served):
    url, _ = served
    chromium = browser_check.find_chromium()
    with (
        tempfile.TemporaryDirectory(prefix="chromium-") as profile,
        browser_check._DevTools(chromium, Path(profile)) as browser,
    ):
        session = browser.open_page(url)
        yield browser, session
        local = (url.rstrip("/"), "data:", "blob:", "about:")
        requested = [
            event["params"]["request"]["url"]
            for event in browser.events
            if event.get("method") == "Network.requestWillBeSent"
        ]
        assert requested and all(request.startswith(local) for request in requested), requested
        assert browser.errors == []


def shown_answer(browser, session, answers_before: int, timeout: float = 20.0) -> dict:
    """The answer the page shows once it has answered again and has nothing more in flight."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = browser.evaluate(session, ANSWER_JS)
        if not state["busy"] and state["answers"] > answers_before:
            time.sleep(0.3)  # longer than the page's pause before it sends: a last request would have started
            settled = browser.evaluate(session, ANSWER_JS)
            if not settled["busy"] and settled["answers"] == state["answers"]:
                return settled
        time.sleep(0.05)
    pytest.fail(f"the page showed no answer in {timeout} s: {state['status']}")


def draw_on_pad(browser, session, digit: str) -> dict:
    """Clear the pad, draw the digit with the mouse and return the answer shown."""
    before = browser.evaluate(session, ANSWER_JS)["answers"]
    browser.evaluate(session, '(document.getElementById("clear").click(), true)')
    box = browser.evaluate(
        session, 'JSON.parse(JSON.stringify(document.getElementById("pad").getBoundingClientRect()))'
    )
    scale = box["width"] / PAD
    browser.drag(session, [(box["left"] + x * scale, box["top"] + y * scale) for x, y in strokes(digit)])
    return shown_answer(browser, session, before)


@pytest.mark.parametrize("digit", ["1", "0"])
def test_a_digit_drawn_with_the_mouse_is_recognised_as_it_is_drawn(page, digit):
    browser, session = page
    shown = draw_on_pad(browser, session, digit)
    assert shown["label"] == digit, shown["status"]
    assert [name for name, _ in shown["top"]][0] == digit and len(shown["top"]) == 3
    assert shown["status"] == f"The model says {digit}."
    assert max(shown["seen"]) == 255
    if os.environ.get(SCREENSHOT_DIR_ENV) and digit == "0":
        browser.screenshot(session, Path(os.environ[SCREENSHOT_DIR_ENV]) / "serve.png")


def test_an_uploaded_file_gets_what_predict_says_and_shows_what_the_model_saw(page, served, tmp_path):
    browser, session = page
    path = tmp_path / "seven.png"
    draw("7", size=(160, 200), ink=(30, 30, 90), paper=(250, 245, 230), mode="RGB").save(path)
    _, model = served
    command = [sys.executable, "-m", "mnist_dvc.apps.predict", "--model", str(model), "--json", "--top", "3", str(path)]
    predict = subprocess.Popen(command, cwd=PROJECT_ROOT, env=project_env(), stdout=subprocess.PIPE, text=True)
    before = browser.evaluate(session, ANSWER_JS)["answers"]
    upload = browser.send("Runtime.evaluate", {"expression": 'document.getElementById("upload")'}, session)
    browser.send("DOM.setFileInputFiles", {"files": [str(path)], "objectId": upload["result"]["objectId"]}, session)
    shown = shown_answer(browser, session, before)
    expected = json.loads(predict.communicate(timeout=120)[0])
    assert shown["label"] == expected["label"] == "7"
    assert shown["top"] == [[name, predict_app.shown(p)] for name, p in expected["top"]]
    assert shown["seen"] == to_mnist(read_image(path)).ravel().tolist()


def test_a_tap_without_moving_draws_a_dot_and_gets_an_answer(page):
    browser, session = page
    before = browser.evaluate(session, ANSWER_JS)["answers"]
    browser.evaluate(session, '(document.getElementById("clear").click(), true)')
    box = browser.evaluate(
        session, 'JSON.parse(JSON.stringify(document.getElementById("pad").getBoundingClientRect()))'
    )
    centre = (box["left"] + box["width"] / 2, box["top"] + box["height"] / 2)
    browser.drag(session, [centre, centre])
    inked = browser.evaluate(
        session,
        """(() => {
            const pad = document.getElementById("pad");
            const pixels = pad.getContext("2d").getImageData(0, 0, pad.width, pad.height).data;
            return pixels.filter((value, index) => index % 4 === 0 && value > 128).length;
        })()""",
    )
    assert inked > 200  # a dot as wide as the pen
    shown = shown_answer(browser, session, before)
    assert "no ink" not in shown["status"] and shown["label"]


def test_every_control_is_a_finger_wide_and_shows_its_focus(page):
    browser, session = page
    controls = browser.evaluate(
        session,
        """[...document.querySelectorAll("button, input")].map((control) => {
            control.focus();
            const target = control.closest("label") ?? control;
            const box = target.getBoundingClientRect();
            const style = getComputedStyle(target);
            return [control.id, box.width, box.height, style.outlineStyle, parseFloat(style.outlineWidth)];
        })""",
    )
    assert [control[0] for control in controls] == ["clear", "upload"]
    for name, width, height, outline, outline_width in controls:
        assert width >= 44 and height >= 44, name
        assert outline != "none" and outline_width >= 2, name


def test_the_page_says_which_model_answers(page, served):
    browser, session = page
    _, model = served
    deadline = time.monotonic() + 10
    while "asking" in (about := browser.evaluate(session, 'document.getElementById("about").textContent')):
        assert time.monotonic() < deadline, about
        time.sleep(0.05)
    assert about.startswith(f"Answering: {model}, ")
