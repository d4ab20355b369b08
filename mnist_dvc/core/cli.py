"""What every command shares, stage or not: its options, one-line errors, and a prompt exit."""

import argparse
import errno
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mnist_dvc.core import paths
from mnist_dvc.core.errors import PipelineError
from mnist_dvc.core.signals import Terminated, catch_stop_signals, raise_if_stopped

DEBUG_ENV = "MNIST_DEBUG"
# Errors of the disk, not of the code: told in one line, like any expected failure.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    with_params: bool = True,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """Parse the options that every command takes: --help, and --params unless it reads none; add_arguments
    adds a command's own."""
    main_spec = getattr(sys.modules["__main__"], "__spec__", None)
    parser = argparse.ArgumentParser(
        prog=f"python -m {main_spec.name.removesuffix('.__main__')}" if main_spec else None,
        description=description,
        epilog=f"Set {DEBUG_ENV}=1 to see the full traceback of an error.",
    )
    if with_params:
        parser.add_argument(
            "--params",
            type=Path,
            default=paths.PARAMS,
            help="parameters file (default: %(default)s)",
        )
    if add_arguments:
        add_arguments(parser)
    return parser.parse_args(argv)


def run_command(name: str, main: Callable[[], None], after_stop: str = "") -> None:
    """Run a command's main, turning expected failures into one line on stderr, and exit.

    Output is line-buffered, so that progress shows up live when another program (DVC) captures it. Ctrl-C
    and SIGTERM unwind like an exception, so that temporary files are removed on the way out, and say so in
    one line ending in after_stop; so does a full disk. Once main has returned or unwound, every output is written
    and closed, or removed, so the process ends at once: Python's normal exit would spend about a second tearing
    down TensorFlow.
    """
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    catch_stop_signals()
    try:
        try:
            main()
        except Exception:
            raise_if_stopped()  # an error of the code the signal came in, as with a TensorFlow error during tracing
            raise
    except PipelineError as error:
        if os.environ.get(DEBUG_ENV):
            raise
        _stop(f"{name}: error: {error}", 1)
    except KeyboardInterrupt:
        _stop(f"{name}: interrupted{after_stop}", 128 + signal.SIGINT)
    except Terminated:
        _stop(f"{name}: terminated{after_stop}", 128 + signal.SIGTERM)
    except OSError as error:
        if error.errno not in DISK_FULL or os.environ.get(DEBUG_ENV):
            raise
        where = f"{error.filename}: " if error.filename else ""
        _stop(f"{name}: error: {where}{os.strerror(error.errno)}; free some space, then run again{after_stop}", 1)
    _exit(0)


def _stop(message: str, status: int) -> None:
    print(message, file=sys.stderr)
    _exit(status)


def _exit(status: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
