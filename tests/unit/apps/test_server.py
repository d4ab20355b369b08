"""The local web page's server (apps/server.py, python -m mnist_dvc.apps.serve): a tiny model trained here on drawn
0s, 1s and 7s answers through the HTTP API exactly as predict answers for the same files, refuses what is not
a digit with a 400 and a body that is too large with a 413, and keeps serving after either. No client can hold it:
idle, slow and numerous connections are closed or refused, each client error is one line on stderr."""

import asyncio
import gc
import io
import json
import socket
import sys
import threading

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402
from PIL import Image  # noqa: E402

from mnist_dvc.apps.images import read_image, to_mnist  # noqa: E402
from mnist_dvc.apps.server import MAX_BODY_BYTES, TOP, Limits, make_app, serve  # noqa: E402
from mnist_dvc.core.errors import PipelineError  # noqa: E402
from mnist_dvc.model.inference import load_classifier  # noqa: E402
from tests.helpers.drawn import SHAPES, draw, drawn_dataset  # noqa: E402
from tests.helpers.project import PROJECT_ROOT, run  # noqa: E402
from tests.helpers.servers import exchange_raw, serving  # noqa: E402


@pytest.fixture(scope="module")
def classifier(drawn_model):
    return load_classifier(drawn_model)


@pytest.fixture(scope="module")
def drawn_files(tmp_path_factory):
    """A PNG of each drawn digit, dark ink on white as on paper, in a place and size none of the training had."""
    folder = tmp_path_factory.mktemp("drawn")
    for digit in SHAPES:
        draw(digit, size=(240, 180), box=(0.4, 0.2, 0.65, 0.9), width=12).save(folder / f"{digit}.png")
    return {digit: folder / f"{digit}.png" for digit in SHAPES}


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def exchange(classifier, requests: list[tuple[str, str, bytes | None]]) -> list[tuple[int, str, object]]:
    """Send requests (method, path, body) in turn to one server; each answer as status, content type and body
    (parsed when JSON)."""
    return exchange_with(make_app(lambda: classifier), requests)


def exchange_with(app, requests: list[tuple[str, str, bytes | None]]) -> list[tuple[int, str, object]]:
    async def talk():
        answers = []
        async with TestClient(TestServer(app)) as client:
            for method, path, body in requests:
                response = await client.request(method, path, data=body)
                text = await response.text()
                parsed = json.loads(text) if response.content_type == "application/json" else text
                answers.append((response.status, response.content_type, parsed))
        return answers

    return asyncio.run(talk())


def test_drawn_digits_get_the_right_answer_and_the_image_the_model_saw(classifier, drawn_files):
    answers = exchange(classifier, [("POST", "/predict", path.read_bytes()) for path in drawn_files.values()])
    for (digit, path), (status, _, reply) in zip(drawn_files.items(), answers, strict=True):
        assert status == 200, reply
        assert reply["label"] == digit
        assert [name for name, _ in reply["top"]][0] == digit and len(reply["top"]) == TOP
        probabilities = [p for _, p in reply["top"]]
        assert probabilities == sorted(probabilities, reverse=True) and reply["probability"] == probabilities[0]
        assert reply["image"] == to_mnist(read_image(path)).ravel().tolist()


def test_the_page_answers_what_predict_answers_for_the_same_files(classifier, drawn_model, drawn_files):
    command = [sys.executable, "-m", "mnist_dvc.apps.predict", "--model", str(drawn_model), "--json", "--top", str(TOP)]
    result = run([*command, *map(str, drawn_files.values())], PROJECT_ROOT, timeout=120)
    predicted = [json.loads(line) for line in result.stdout.splitlines()]
    answers = exchange(classifier, [("POST", "/predict", path.read_bytes()) for path in drawn_files.values()])
    for expected, (_, _, reply) in zip(predicted, answers, strict=True):
        assert reply["label"] == expected["label"]
        assert [name for name, _ in reply["top"]] == [name for name, _ in expected["top"]]
        assert np.allclose([p for _, p in reply["top"]], [p for _, p in expected["top"]], atol=1e-6)


def test_what_is_no_digit_is_refused_with_a_reason_and_the_server_keeps_serving(classifier, drawn_files):
    png = drawn_files["7"].read_bytes()
    answers = exchange(
        classifier,
        [
            ("POST", "/predict", b"not an image at all"),
            ("POST", "/predict", b""),
            ("POST", "/predict", png[: len(png) // 2]),
            ("POST", "/predict", png_bytes(Image.new("L", (200, 200), 255))),
            ("POST", "/predict", b"\0" * (MAX_BODY_BYTES + 1)),
            ("POST", "/predict", b"%PDF-1.7\n"),
            ("POST", "/predict", png),
        ],
    )
    statuses = [status for status, _, _ in answers]
    assert statuses == [400, 400, 400, 400, 413, 400, 200]
    errors = [reply["error"] for _, _, reply in answers[:6]]
    assert "not an image that Pillow can read" in errors[0] and "an empty file (0 bytes)" in errors[1]
    assert errors[5] == "the posted image: a PDF, not an image; save its page as a PNG or JPEG first"
    assert "damaged or truncated" in errors[2]
    assert "no ink found" in errors[3]
    assert "larger than 5 MB" in errors[4]
    assert answers[6][2]["label"] == "7"


def test_a_form_upload_is_told_to_send_the_file_itself(classifier, drawn_files):
    async def post_form():
        form = aiohttp.FormData()
        form.add_field("file", drawn_files["7"].read_bytes(), filename="7.png", content_type="image/png")
        async with TestClient(TestServer(make_app(lambda: classifier))) as client:
            response = await client.post("/predict", data=form)
            return response.status, await response.json()

    status, reply = asyncio.run(post_form())
    assert status == 400
    assert reply["error"] == (
        "the posted image: not an image that Pillow can read (a multipart form was sent: post the image file itself "
        "as the body, e.g. curl --data-binary @file)"
    )


def test_the_page_and_its_files_are_served_locally(classifier):
    page, script, style, missing = exchange(
        classifier,
        [("GET", "/", None), ("GET", "/static/app.js", None), ("GET", "/static/style.css", None), ("GET", "/x", None)],
    )
    assert page[:2] == (200, "text/html") and 'src="static/app.js"' in page[2]
    assert script[0] == 200 and script[1].endswith("javascript") and 'fetch("predict"' in script[2]
    assert style[:2] == (200, "text/css")
    assert missing[0] == 404
    assert "http" not in page[2].replace('name="viewport"', "")


def test_a_missing_model_is_one_line_at_start_up(tmp_path):
    command = [sys.executable, "-m", "mnist_dvc.apps.serve", "--model", str(tmp_path / "missing.keras"), "--port", "0"]
    result = run(command, PROJECT_ROOT, check=False, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"serve: error: {tmp_path / 'missing.keras'}: no such file; ")
    assert "models/" in result.stderr and len(result.stderr.splitlines()) == 1  # and the models there are


def test_the_url_is_printed_before_the_model_is_loaded_and_requests_wait_for_it(classifier, drawn_files, capsys):
    """TensorFlow takes seconds to import: the server listens at once, and a request sent meanwhile gets its answer
    once the model is there."""
    loaded = threading.Event()

    def slow_load():
        loaded.wait(30)
        return classifier

    async def scenario():
        server = asyncio.create_task(serve(slow_load, {"model": "slow.keras"}, "127.0.0.1", 0))
        while "http://" not in (printed := capsys.readouterr().out):
            await asyncio.sleep(0.01)
        url = printed.split()[1]
        async with aiohttp.ClientSession() as session:
            request = asyncio.create_task(session.post(f"{url}predict", data=drawn_files["7"].read_bytes()))
            await asyncio.sleep(0.2)
            assert not request.done()
            loaded.set()
            reply = await (await request).json()
        server.cancel()
        return printed, reply

    printed, reply = asyncio.run(scenario())
    assert printed.startswith("serve: http://127.0.0.1:") and "loaded" not in printed
    assert reply["label"] == "7" and reply["doubt"] is None


def test_about_says_which_model_answers(classifier):
    about = {"model": "model.keras", "family": "multilayer perceptron", "dataset": "mnist", "test_accuracy": 0.97}
    app = make_app(lambda: classifier, about)
    [(status, _, reply)] = exchange_with(app, [("GET", "/about", None)])
    assert status == 200 and reply == about


def test_an_answer_not_to_trust_says_why(classifier):
    pair = Image.new("L", (400, 200), 255)
    pair.paste(draw("1", box=(0.2, 0.2, 0.8, 0.8)), (0, 0))
    pair.paste(draw("7", box=(0.2, 0.2, 0.8, 0.8)), (200, 0))
    [(status, _, reply)] = exchange(classifier, [("POST", "/predict", png_bytes(pair))])
    assert status == 200 and "two digits?" in reply["doubt"]


def test_under_load_every_answer_is_right_and_no_request_fails(classifier):
    """500 requests, 20 at a time (bench/serve_load.py measures the same with the trained model)."""
    images, _ = drawn_dataset(50, seed=3)
    expected = [classifier.classes[k] for k in classifier.probabilities(images).argmax(axis=1)]
    bodies = [png_bytes(Image.fromarray(image)) for image in images]

    async def load() -> list[tuple[int, str]]:
        limit = asyncio.Semaphore(20)
        async with TestClient(TestServer(make_app(lambda: classifier))) as client:

            async def ask(index: int) -> tuple[int, str]:
                async with limit:
                    response = await client.post("/predict", data=bodies[index % len(bodies)])
                    return response.status, (await response.json()).get("label", "")

            return await asyncio.gather(*(ask(index) for index in range(500)))

    answers = asyncio.run(load())
    assert [status for status, _ in answers] == [200] * 500
    assert [label for _, label in answers] == [expected[index % len(bodies)] for index in range(500)]


def test_idle_and_slow_connections_are_closed(classifier, capsys):
    """Nothing sent, headers begun but never finished, and nothing after an answer: each closed once idle_seconds
    pass, where aiohttp would wait an hour."""

    async def scenario():
        async with serving(lambda: classifier, capsys, limits=Limits(idle_seconds=0.2)) as (host, port, *_):
            silent = await exchange_raw(host, port, b"")
            slow = await exchange_raw(host, port, b"GET /about HTTP/1.1\r\nHost: x\r\nUser-Agent: sl")
            kept = await exchange_raw(host, port, b"GET /about HTTP/1.1\r\nHost: x\r\n\r\n")
        return silent, slow, kept

    silent, slow, kept = asyncio.run(scenario())
    assert silent == slow == (b"", True)
    assert kept[0].startswith(b"HTTP/1.1 200 OK") and kept[0].endswith(b"{}") and kept[1]


def test_a_body_that_trickles_in_is_refused_in_one_line(classifier, capsys):
    async def scenario():
        async with serving(lambda: classifier, capsys, limits=Limits(body_seconds=0.2)) as (host, port, *_):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n\x89PNG")
            answer = await asyncio.wait_for(reader.readuntil(b"}"), 2)
            writer.write(bytes(996))  # the rest, which aiohttp reads and drops before it closes the connection
            closed = await asyncio.wait_for(reader.read(), 2) == b""
            writer.close()
        return answer, closed

    answer, closed = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 408 ") and closed
    error = "the image took longer than 0.2 s to arrive; send it again"
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"error": error}
    assert capsys.readouterr().err == f"serve: 127.0.0.1: {error}\n"


def test_a_connection_that_aiohttp_leaves_open_is_closed_once_old(classifier, capsys):
    """aiohttp 3.14's handler of a connection dies on `CONNECT` with no target, and its keep-alive timer with it."""

    async def scenario():
        limits = Limits(idle_seconds=0.05, body_seconds=0.05, lifetime_seconds=0.2)
        async with serving(lambda: classifier, capsys, limits=limits) as (host, port, *_):
            answer = await exchange_raw(host, port, b"CONNECT  \r\n\r\n")
            gc.collect()  # the task that died: asyncio reports its error once it is collected
            return answer

    assert asyncio.run(scenario()) == (b"", True)
    stderr = capsys.readouterr().err  # asyncio's report of the dead task, in one line
    assert "Traceback" not in stderr and all(line.startswith("serve: ") for line in stderr.splitlines())


def test_connections_beyond_the_bound_are_refused_at_once_until_some_close(classifier, capsys):
    async def scenario():
        async with serving(lambda: classifier, capsys, limits=Limits(connections=2)) as (host, port, *_):
            held = [await asyncio.open_connection(host, port) for _ in range(2)]
            for reader, writer in held:  # each answered, so that the server counts it
                writer.write(b"GET /about HTTP/1.1\r\nHost: x\r\n\r\n")
                await reader.readuntil(b"{}")
            refused = [(await exchange_raw(host, port, b""))[0] for _ in range(3)]
            held[0][1].close()
            for _ in range(100):
                about = b"GET /about HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                served, _ = await exchange_raw(host, port, about)
                if served.startswith(b"HTTP/1.1 200"):
                    break
                await asyncio.sleep(0.01)
            held[1][1].close()
        return refused, served

    refused, served = asyncio.run(scenario())
    assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in refused)
    error = json.loads(refused[0].partition(b"\r\n\r\n")[2])["error"]
    assert error == "the server has 2 connections open, the most it takes; try again shortly"
    assert served.startswith(b"HTTP/1.1 200")
    stderr = capsys.readouterr().err
    assert stderr == "serve: 2 connections open, the most allowed: refusing new ones until some close\n"


def test_client_errors_are_one_line_each_and_the_server_keeps_serving(classifier, drawn_files, capsys):
    bad_requests = [
        b"GARBAGE / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nabcde",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1) + bytes(2**20),
    ]

    async def scenario():
        async with serving(lambda: classifier, capsys) as (host, port, *_):
            answers = [(await exchange_raw(host, port, request))[0] for request in bad_requests]
            await exchange_raw(
                host, port, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc", True
            )
            async with aiohttp.ClientSession() as session:
                reply = await session.post(f"http://{host}:{port}/predict", data=drawn_files["7"].read_bytes())
                good = await reply.json()
            await asyncio.sleep(0.1)  # for the line of the upload cut short
        return answers, good

    answers, good = asyncio.run(scenario())
    assert [answer[9:12] for answer in answers] == [b"400"] * 6 + [b"413"]
    assert b"Connection: close" in answers[5]  # a body that cannot be decoded: the connection is not kept
    assert good["label"] == "7"
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(bad_requests) + 1, lines
    assert all(line.startswith("serve: ") for line in lines) and "Traceback" not in "\n".join(lines)
    assert "serve: a bad request from 127.0.0.1: Invalid header token" in lines
    assert "serve: 127.0.0.1: the connection closed before the image had all arrived" in lines


def test_listening_beyond_this_machine_is_warned_of(classifier, capsys):
    async def scenario():
        async with serving(lambda: classifier, capsys, host="0.0.0.0") as (_, _, out, err):
            return out, err

    out, err = asyncio.run(scenario())
    assert out.startswith("serve: http://0.0.0.0:")
    assert err == (
        "serve: warning: listening on 0.0.0.0: anyone who can reach this machine on the network can use the page; "
        "--host 127.0.0.1 keeps it to this machine\n"
    )


def test_an_ipv6_address_is_in_brackets_in_the_url_and_localhost_is_not_warned_of(classifier, capsys):
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")

    async def scenario():
        async with serving(lambda: classifier, capsys, host="::1") as (_, port, out, err):
            return port, out, err

    port, out, err = asyncio.run(scenario())
    assert out.startswith(f"serve: http://[::1]:{port}/ (Ctrl-C to stop)\n") and err == ""


def test_a_host_that_is_no_address_of_this_machine_is_named_as_such(classifier):
    with pytest.raises(PipelineError, match=r"^no-such-host\.invalid:0: cannot listen \(.*\); check --host$"):
        asyncio.run(serve(lambda: classifier, {}, "no-such-host.invalid", 0))
