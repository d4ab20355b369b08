"""The trained model behind a local web page: draw a digit and see, as you draw, what the model answers.

The page (apps/page/) posts what was drawn, or an uploaded file, as it stands; the server reads and
normalises it with the code predict uses (apps/images.py, model/inference.py), so the page answers
what `python -m mnist_dvc.apps.predict` would say of the same file, and shows the 28x28 image the model saw.
The server listens at once and loads the model meanwhile, off the event loop: TensorFlow takes seconds to import.
No client can hold it (Limits): idle or half-sent connections are closed, and their number is bounded; what a
client does wrong is one line on stderr, never a traceback.
"""

import asyncio
import errno
import io
import ipaddress
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from mnist_dvc.apps.images import ImageError, read_image, to_mnist
from mnist_dvc.apps.trust import doubt
from mnist_dvc.core.errors import PipelineError

if TYPE_CHECKING:  # importing it imports TensorFlow, which the model's loader does, off the event loop
    from mnist_dvc.model.inference import Classifier

PAGE_DIR = Path(__file__).parent / "page"
MAX_BODY_BYTES = 5 * 1024 * 1024
TOP = 3
UPLOAD_NAME = "the posted image"


@dataclass(frozen=True)
class Limits:
    """What a client may hold of the server, so that idle, slow or numerous connections cannot use up its file
    descriptors: a connection is closed once idle_seconds pass with no complete request (idle between requests,
    or sending its headers too slowly); a body must arrive within body_seconds, and what is left of one after the
    answer is read and dropped for at most linger_seconds (aiohttp's default), so that the client gets the
    answer; beyond connections open at once, a new one is answered 503 and closed. A connection older than
    lifetime_seconds is closed after its answer in progress, and at once body_seconds later."""

    connections: int = 256
    idle_seconds: float = 20.0
    body_seconds: float = 30.0
    linger_seconds: float = 10.0
    lifetime_seconds: float = 60.0


LIMITS = Limits()

LOADER = web.AppKey("loader", Callable)
ABOUT = web.AppKey("about", dict)
# The classifier, once the loader has made it; the requests that come before wait for it.
CLASSIFIER = web.AppKey("classifier", asyncio.Future)
# One worker: the model runs on one request at a time, off the event loop, which keeps serving meanwhile.
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
LIMITS_KEY = web.AppKey("limits", Limits)


class _OneLine(logging.Handler):
    """Each record as one line on stderr (the stream of the moment): a client's bad request is its fault, not the
    server's, so it gets the first line of its reason; only the server's own errors keep their traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError | web.RequestPayloadError | ConnectionError):
            client = record.getMessage().partition(" from ")[2]
            line = f"a bad request{f' from {client}' if client else ''}: {_reason(error)}"
        else:
            line = self.format(record)
        print(f"serve: {line}", file=sys.stderr)


def _reason(error: BaseException) -> str:
    """The first line of an aiohttp error, without its status: "400, message:\n  Invalid header token:\n ..."."""
    text = re.sub(r"^\d{3}, message:\s*", "", str(error)).strip()
    return (text.splitlines()[0].rstrip(":") if text else type(error).__name__)[:200]


# aiohttp's server logs here: client errors, in one line each.
CLIENT_LOG = logging.getLogger("mnist_dvc.serve")
CLIENT_LOG.addHandler(_OneLine())
CLIENT_LOG.setLevel(logging.DEBUG)  # aiohttp logs a first request that is not HTTP at all at debug level
CLIENT_LOG.propagate = False


def answer(classifier: "Classifier", body: bytes) -> dict:
    """What the page shows for an image: the likeliest classes with their probabilities, why not to trust the
    answer (or None), and the image the model saw (784 uint8 values, row by row). ImageError when the body is no
    image or holds no digit."""
    image = to_mnist(read_image(io.BytesIO(body), UPLOAD_NAME), UPLOAD_NAME)
    probabilities = classifier.probabilities(image[np.newaxis])[0]
    order = (-probabilities).argsort(kind="stable")[:TOP]
    top = [[classifier.classes[k], float(probabilities[k])] for k in order]
    label, probability = top[0]
    return {
        "label": label,
        "probability": probability,
        "doubt": doubt(image, probability),
        "top": top,
        "image": image.ravel().tolist(),
    }


async def _predict(request: web.Request) -> web.Response:
    app = request.app
    seconds = app[LIMITS_KEY].body_seconds
    too_large = f"the image is larger than {MAX_BODY_BYTES // 2**20} MB"
    if (request.content_length or 0) > MAX_BODY_BYTES:  # said at once, rather than once that much has come
        return _refused(request, 413, too_large)
    try:
        async with asyncio.timeout(seconds):
            body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _refused(request, 413, too_large)
    except TimeoutError:
        return _refused(request, 408, f"the image took longer than {seconds:g} s to arrive; send it again")
    except web.RequestPayloadError as error:  # aiohttp logs it, as it reads what is left of the body
        return _closing(400, f"a body that cannot be read ({_reason(error)})")
    except ConnectionError:
        return _refused(request, 400, "the connection closed before the image had all arrived")
    classifier = await app[CLASSIFIER]
    try:
        result = await asyncio.get_running_loop().run_in_executor(app[EXECUTOR], answer, classifier, body)
    except ImageError as error:
        return web.json_response({"error": f"{error}{_form_hint(request)}"}, status=400)
    return web.json_response(result)


def _form_hint(request: web.Request) -> str:
    """How to post an image for a client that sent a form (curl -F, an HTML form) rather than the file itself."""
    if request.content_type.startswith("multipart/"):
        return " (a multipart form was sent: post the image file itself as the body, e.g. curl --data-binary @file)"
    return ""


def _refused(request: web.Request, status: int, message: str) -> web.Response:
    """A request refused before its image was read, told in one line to the client and on stderr."""
    CLIENT_LOG.warning("%s: %s", request.remote, message)
    return _closing(status, message)


def _closing(status: int, message: str) -> web.Response:
    """An error that closes the connection, which the client is told: what is left of its body is not read."""
    response = web.json_response({"error": message}, status=status)
    response.force_close()
    return response


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(PAGE_DIR / "index.html")


async def _about(request: web.Request) -> web.Response:
    return web.json_response(request.app[ABOUT])


async def _model_worker(app: web.Application) -> AsyncIterator[None]:
    """The model's thread, which loads it first."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model") as executor:
        app[EXECUTOR] = executor
        app[CLASSIFIER] = asyncio.get_running_loop().run_in_executor(executor, app[LOADER])
        yield


def make_app(load: Callable[[], "Classifier"], about: dict | None = None, limits: Limits = LIMITS) -> web.Application:
    """The web application: GET / the page, GET /static/* its files, GET /about what is known of the model,
    POST /predict an image's answer. load makes the classifier, in the model's thread, once the app starts."""
    # aiohttp's keep-alive timer runs from a connection's start and from each answer, and closes the connection if
    # no complete request has come by then: both an idle connection and headers sent too slowly.
    handler_args = {
        "keepalive_timeout": limits.idle_seconds,
        "lingering_time": limits.linger_seconds,
        "logger": CLIENT_LOG,
        "access_log": None,
    }
    app = web.Application(client_max_size=MAX_BODY_BYTES, handler_args=handler_args)
    app[LIMITS_KEY] = limits
    app[LOADER] = load
    app[ABOUT] = about or {}
    app.cleanup_ctx.append(_model_worker)
    app.router.add_get("/", _index)
    app.router.add_get("/about", _about)
    app.router.add_static("/static/", PAGE_DIR)
    app.router.add_post("/predict", _predict)
    return app


class _BoundedSite(web.BaseSite):
    """A TCP site that holds at most limits.connections open, each for at most limits.lifetime_seconds (aiohttp
    offers neither): one more is answered 503 at once and closed, unread. The count is aiohttp's server's, of the
    connections it has started to handle: a burst, accepted 128 at a time (the listen backlog), may pass it by as
    many, still a bound."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, limits: Limits) -> None:
        super().__init__(runner)
        self._host, self._port, self._limits = host, port, limits
        self._refusing = False
        self._opened: dict[web.RequestHandler, float] = {}  # each connection handled, by when it opened
        self._closing_the_old: asyncio.Task | None = None
        message = f"the server has {limits.connections} connections open, the most it takes; try again shortly"
        body = json.dumps({"error": message}).encode()
        self._refusal = (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    @property
    def name(self) -> str:
        return url(self._host, self._port)

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._connection, self._host, self._port, backlog=self._backlog)
        self._closing_the_old = asyncio.create_task(self._close_the_old())

    async def stop(self) -> None:
        if self._closing_the_old:
            self._closing_the_old.cancel()
        await super().stop()

    def _connection(self) -> asyncio.BaseProtocol:
        """The protocol of a new connection: the server's, or a refusal; the first refusal in a row is logged."""
        server = self._runner.server
        if len(server.connections) < self._limits.connections:
            self._refusing = False
            handler = server()
            self._opened[handler] = asyncio.get_running_loop().time()
            return handler
        if not self._refusing:
            CLIENT_LOG.warning(
                "%s connections open, the most allowed: refusing new ones until some close", len(server.connections)
            )
            self._refusing = True
        return _Refusal(self._refusal)

    async def _close_the_old(self) -> None:
        """Close the connections that have lived too long, however they got stuck: aiohttp's keep-alive timer
        stops with the task that handles a connection, which a malformed request can end (`CONNECT  ` with no
        target, in aiohttp 3.14), leaving the connection open for good."""
        server, loop, limits = self._runner.server, asyncio.get_running_loop(), self._limits
        while True:
            await asyncio.sleep(limits.idle_seconds)
            still_open = set(server.connections)
            self._opened = {handler: opened for handler, opened in self._opened.items() if handler in still_open}
            for handler, opened in self._opened.items():
                age = loop.time() - opened
                if age > limits.lifetime_seconds + limits.body_seconds:
                    handler.force_close()
                elif age > limits.lifetime_seconds:
                    handler.close()  # once its answer in progress is sent


class _Refusal(asyncio.Protocol):
    """A connection over the bound: answered at once and closed, never read."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self._answer)
        transport.close()


def _unexpected(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """An error that nothing awaited, in one line: the task of a connection that aiohttp failed to handle."""
    error = context.get("exception")
    CLIENT_LOG.error("%s%s", context["message"], f" ({type(error).__name__}: {error})" if error else "")


def url(host: str, port: int) -> str:
    """The page's URL; an IPv6 address goes in brackets."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _beyond_this_machine(addresses: list[tuple]) -> str | None:
    """The first address listened on that is not a loopback one, if any."""
    for address in addresses:
        if not ipaddress.ip_address(address[0].partition("%")[0]).is_loopback:
            return address[0]
    return None


async def serve(load: Callable[[], "Classifier"], about: dict, host: str, port: int, limits: Limits = LIMITS) -> None:
    """Serve the page until cancelled, printing its URL (with the port chosen, if port is 0) before the model is
    loaded, and a warning when it listens beyond this machine; a model that fails to load ends it, in one line."""
    app = make_app(load, about, limits)
    asyncio.get_running_loop().set_exception_handler(_unexpected)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        try:
            await _BoundedSite(runner, host, port, limits).start()
        except OSError as error:
            fix = "try another --port" if error.errno in (errno.EADDRINUSE, errno.EACCES) else "check --host"
            raise PipelineError(f"{host}:{port}: cannot listen ({error.strerror}); {fix}") from None
        print(f"serve: {url(*runner.addresses[0][:2])} (Ctrl-C to stop)")
        if public := _beyond_this_machine(runner.addresses):
            print(
                f"serve: warning: listening on {public}: anyone who can reach this machine on the network can use "
                "the page; --host 127.0.0.1 keeps it to this machine",
                file=sys.stderr,
            )
        await app[CLASSIFIER]
        print(f"serve: {about.get('model', 'the model')} loaded; answering")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
