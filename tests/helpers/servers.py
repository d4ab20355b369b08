"""A mirror that a test controls: an HTTP server on 127.0.0.1 that serves, fails, drops or hangs on request; and
the page's server as the serve command runs it, with a client that sends it bytes as they are."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by the tests that serve only, not by every session's conftest
    from mnist_dvc.apps.server import Limits


class MirrorServer:
    """A small HTTP server on 127.0.0.1 whose answer per path a test chooses.

    Each route maps a path ("<mirror>/<file name>") to bytes to serve, or to one of: "404", "drop"
    (promise the whole file, send half, hang up) and "hang" (never answer).
    """

    def __init__(self) -> None:
        import http.server
        import threading

        self.routes: dict[str, bytes | tuple[str, bytes]] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
                path = self.path.lstrip("/")
                server.requests.append(path)
                route = server.routes.get(path, "404")
                if route == "hang":
                    server.release.wait(30)
                    return
                if route == "404":
                    self.send_error(404)
                    return
                behaviour, body = route if isinstance(route, tuple) else ("ok", route)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if behaviour == "ok" else body[: len(body) // 2])
                if behaviour == "drop":
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, prefix: str = "mirror") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{prefix}/"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port_url() -> str:
    """A mirror URL on 127.0.0.1 where nothing listens: a machine with no network."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@contextlib.asynccontextmanager
async def serving(
    load: Callable, capsys, host: str = "127.0.0.1", limits: "Limits | None" = None
) -> AsyncIterator[tuple]:
    """A server as the command runs it (with its limits, unless others are given), on a free port, once its model
    is loaded: its host, port and what it printed on stdout and stderr so far."""
    from mnist_dvc.apps.server import LIMITS, serve

    server = asyncio.create_task(serve(load, {}, host, 0, limits or LIMITS))
    out = err = ""
    while "loaded" not in out:
        await asyncio.sleep(0.01)
        printed = capsys.readouterr()
        out, err = out + printed.out, err + printed.err
    port = int(out.split()[1].rstrip("/").rpartition(":")[2])
    try:
        yield host, port, out, err
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


async def exchange_raw(host: str, port: int, data: bytes, then_close: bool = False) -> tuple[bytes, bool]:
    """What the server answers to bytes sent as they are within 2 s, and whether it closed the connection by then."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(data)
    answer = b""
    try:
        async with asyncio.timeout(0 if then_close else 2):
            while chunk := await reader.read(2**16):
                answer += chunk
    except TimeoutError:
        return answer, False
    finally:
        writer.close()
    return answer, True
