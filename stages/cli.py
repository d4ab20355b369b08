"""The entry point every stage shares: arguments, one-line errors, unbuffered output."""

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from stages import paths
from stages.errors import PipelineError
from stages.restore import restore_outputs

DEBUG_ENV = "MNIST_DEBUG"
# A file that the benchmarks name: stages append what they measured to it, one JSON object per line.
TIMINGS_ENV = "MNIST_TIMINGS"


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
        prog=f"python -m {main_spec.name}" if main_spec else None,
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


def record_timing(stage: str, name: str, seconds: float) -> None:
    """Append a measured duration for the benchmarks, if they asked for one; timings never go into outputs,
    which must not change from run to run."""
    path = os.environ.get(TIMINGS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps({"stage": stage, "name": name, "seconds": seconds}) + "\n")


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's main, turning expected failures into one line on stderr.

    Output is line-buffered so that progress shows up live when DVC captures it. Once main
    has returned, every output is written and closed, so the process ends at once:
    Python's normal exit would spend about a second tearing down TensorFlow.
    """
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: _exit_on_sigterm(name, signum))
    try:
        restore_outputs()
        main()
    except PipelineError as error:
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"{name}: error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; earlier outputs are intact", file=sys.stderr)
        sys.exit(130)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _exit_on_sigterm(name: str, signum: int) -> None:
    """Unwind like Ctrl-C does, so that temporary files are removed on the way out."""
    print(f"{name}: terminated; earlier outputs are intact", file=sys.stderr)
    sys.exit(128 + signum)
