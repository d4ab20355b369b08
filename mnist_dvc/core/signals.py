"""Ctrl-C and SIGTERM as exceptions that a command unwinds with, removing its temporary files on the way out, and
that no library can swallow for good.

Python runs a signal handler wherever the main thread is, and what it raises is lost when that is a finalizer, a
weakref callback or C code that clears errors (NumPy converting a tensor, say), and the work goes on. So the signal
is remembered too: training before each call into TensorFlow, and every atomic write before it replaces an output,
call raise_if_stopped, so that a stop comes at the next step at the latest and never after an output was replaced.
"""

import signal


class Terminated(SystemExit):
    """SIGTERM, raised as an exit with status 143: asyncio and `except Exception` let it through, as they do Ctrl-C's
    KeyboardInterrupt, where an asyncio task would keep any other exception to itself."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


_received: int | None = None  # the first stop signal received, if any


def catch_stop_signals() -> None:
    """From now on Ctrl-C raises KeyboardInterrupt and SIGTERM raises Terminated, and each is remembered. SIGINT stays
    ignored where the process started with it ignored, as Python leaves it in a script's background job."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_stop_signal)
    signal.signal(signal.SIGTERM, _on_stop_signal)


def _on_stop_signal(signum: int, frame: object) -> None:
    global _received
    if _received is None:
        _received = signum
    raise_if_stopped()


def raise_if_stopped() -> None:
    """Raise again for a Ctrl-C or SIGTERM received before, if any."""
    if _received is not None:
        raise KeyboardInterrupt if _received == signal.SIGINT else Terminated
