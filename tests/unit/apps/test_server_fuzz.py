"""The page's server under generated bad requests, in-process: any body with any headers posted to /predict is
answered 200 with an answer or 4xx with a one-line JSON error; any request at all, sent to the server as the serve
command runs it, is answered below 500 or its connection closed once it stalls; each client error is at most one
line on stderr, with no traceback; and the server answers a good request after each."""

import asyncio
import io
import json
import re

import numpy as np
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_dvc.apps.server import Limits, make_app
from tests.helpers.drawn import CLASSES, draw
from tests.helpers.servers import exchange_raw, serving

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Small limits, so that a request left incomplete, a body left unread or a connection aiohttp left open is closed in
# a blink.
QUICK = Limits(idle_seconds=0.1, body_seconds=0.1, linger_seconds=0.1, lifetime_seconds=0.2)


class Classifier:
    """Stands in for the model: a probability for each class from the image's ink, no TensorFlow needed."""

    classes = CLASSES

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        weights = np.stack([images.reshape(len(images), -1)[:, k::10].sum(axis=1) + 1.0 for k in range(10)], 1)
        return weights / weights.sum(axis=1, keepdims=True)


def encoded(image: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind)
    return buffer.getvalue()


SEVEN = {kind: encoded(draw("7", size=(48, 40), width=4), kind) for kind in ("PNG", "JPEG", "GIF")}
GOOD = SEVEN["PNG"]
BODIES = (
    st.binary(max_size=600)
    | st.sampled_from(sorted(SEVEN.values()))
    | st.tuples(st.sampled_from(sorted(SEVEN.values())), st.integers(0, 2**16)).map(lambda pair: pair[0][: pair[1]])
)
HEADER_NAMES = st.sampled_from(
    ["Content-Type", "Content-Encoding", "Transfer-Encoding", "Accept", "Expect", "Connection", "Range", "X-Any"]
)
HEADER_VALUES = st.sampled_from(
    ["gzip", "deflate", "br", "zstd", "identity", "chunked", "multipart/form-data; boundary=x", "image/png",
     "application/json", "100-continue", "close", "keep-alive", "bytes=0-1", "*/*", ""]
) | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)  # fmt: skip


async def answers_a_good_request(url: str) -> None:
    """On a connection of its own: one that aiohttp closed after an answer that did not say so is no failure."""
    async with ClientSession() as client, client.post(f"{url}predict", data=GOOD) as response:
        assert response.status == 200 and "label" in await response.json()


def assert_one_line_each(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert all(line.startswith("serve: ") for line in stderr.splitlines()), stderr


@FUZZ
@given(body=BODIES, headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=3))
def test_any_body_with_any_headers_is_answered_in_json(capsys, body, headers):
    async def exchange() -> tuple[int, str, str]:
        async with TestServer(make_app(Classifier, limits=QUICK)) as server, ClientSession() as client:
            url = str(server.make_url("/"))
            try:
                async with client.post(f"{url}predict", data=body, headers=headers) as response:
                    answer = response.status, response.content_type, await response.text()
            except OSError as error:  # headers the client itself cannot send as given
                answer = 0, "", str(error)
            await answers_a_good_request(url)
        return answer

    status, content_type, text = asyncio.run(exchange())
    assert status < 500, (status, text)
    if content_type == "application/json":
        reply = json.loads(text)
        assert status == 200 and reply["label"] in CLASSES or set(reply) == {"error"} and "\n" not in reply["error"]
    else:  # refused by aiohttp before the app (a body that is not the chunks it claims, an unknown Expect)
        assert status == 0 or 400 <= status < 500, (status, text)
    assert_one_line_each(capsys.readouterr().err)


METHODS = st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "DELETE", "PATCH", "CONNECT", "G\0T", ""])
PATHS = st.sampled_from(
    ["/", "/predict", "/about", "/static/app.js", "/static/../server.py", "/static/%2e%2e/server.py", "*", "//x",
     "/predict?x=%", "http://x/about", "/" + "a" * 9000, ""]
) | st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20)  # fmt: skip
VERSIONS = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/9.9", "HTTP/1.1 extra", ""])
HEADER_LINES = st.lists(
    st.sampled_from(
        ["Host: x", "Content-Length: 5", "Content-Length: -1", "Content-Length: 99999999999999999999",
         "Content-Length: 3", "Content-Length: 5", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked",
         "Content-Encoding: gzip", "Connection: close", "Connection: Upgrade", "Upgrade: websocket", "Bad Header",
         ": empty", "X: " + "b" * 9000, "X: \x7f", " folded", "Expect: 100-continue"]
    ),
    max_size=6,
)  # fmt: skip
RAW_BODIES = st.binary(max_size=40) | st.sampled_from([b"0\r\n\r\n", b"5\r\nabcde\r\n0\r\n\r\n", b"zz\r\n", GOOD])


@FUZZ
@given(method=METHODS, path=PATHS, version=VERSIONS, header_lines=HEADER_LINES, body=RAW_BODIES)
def test_any_request_is_answered_below_500_and_the_server_keeps_serving(
    capsys, method, path, version, header_lines, body
):
    request = "\r\n".join([f"{method} {path} {version}", *header_lines, "", ""]).encode("latin-1") + body

    async def exchange() -> tuple[bytes, bool, str]:
        async with serving(Classifier, capsys, limits=QUICK) as (host, port, _, err):
            answer, closed = await exchange_raw(host, port, request)
            await answers_a_good_request(f"http://{host}:{port}/")
        return answer, closed, err

    answer, closed, err = asyncio.run(exchange())
    assert closed  # once answered, or stalled
    if answer:
        assert re.match(rb"HTTP/\d\.\d [1-4]\d\d ", answer), answer[:200]
    assert_one_line_each(err + capsys.readouterr().err)
