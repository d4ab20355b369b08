"""TensorFlow's start-up lines kept off stderr, for every stage: one import hook, installed by the package; and a
context for the few later calls whose C++ logs ignore TF_CPP_MIN_LOG_LEVEL."""

import contextlib
import ctypes
import os
import re
import sys
import tempfile
from collections.abc import Callable
from types import ModuleType

from mnist_dvc.core.first_import import on_first_import

# No setting reaches the lines TensorFlow logs while its libraries load: absl's level comes from TF_CPP_MIN_LOG_LEVEL
# only in a static initializer that runs after those of threadpool_device.cc ("oneDNN custom operations are on") and
# of the CUDA kernels ("Could not find cuda drivers on your machine", when the CUDA runtime is not installed), and
# two libraries carry their own absl, so each line comes twice, after absl's "All log messages before
# absl::InitializeLog()" header. So the first `import tensorflow` runs with file descriptor 2 on a temporary file;
# then what it wrote goes to stderr but for log lines below TF_CPP_MIN_LOG_LEVEL, the lines TensorFlow would have
# dropped had it read the level in time. Errors, Python warnings and all other output pass, in order. (Only a crash
# inside the import would lose its last words; TF_CPP_MIN_LOG_LEVEL=0 turns all this off.)
#
# Where no NVIDIA driver is installed (libcuda.so.1 does not load), TensorFlow's first look for devices logs the
# error "failed call to cuInit: ... (303)", whatever CUDA_VISIBLE_DEVICES says; only TF_CPP_MIN_LOG_LEVEL=3, which
# also hides real errors, stops it. There the failure is certain and means only "no GPU", so there (and only there)
# the import also lists the devices and drops that line. With a driver nothing is listed, hidden or changed.
_SEVERITIES = b"IWEF"
_LOG_LINE = re.compile(
    rb"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "  # absl: E0000 00:00:1796000155.882810  20406 a.cc:52]
    rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) "  # older TensorFlow: 2024-01-31 12:00:00.000001: E
    rb"|(INFO|WARNING|ERROR): "  # LiteRT's own logger: INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
)
_ABSL_HEADER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def _min_log_level() -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def _nvidia_driver_loads() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def _keep(line: bytes, level: int, no_driver: bool) -> bool:
    if line.rstrip(b"\r\n") == _ABSL_HEADER:
        return False
    match = _LOG_LINE.match(line)
    if match is None:
        return True
    severity = _SEVERITIES.index((match[1] or match[2] or match[3])[:1])
    if no_driver and b"failed call to cuInit" in line:
        return False
    return severity >= level


@contextlib.contextmanager
def _stderr_filtered(level: int, no_driver: bool, silent_on_error: bool = False):
    """Collect what is written to file descriptor 2 meanwhile, then write it back less the lines _keep drops; none of
    it if silent_on_error and the block raised."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            with contextlib.suppress(AttributeError, ValueError, OSError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = [] if failed and silent_on_error else capture.read().splitlines(keepends=True)
            kept = b"".join(line for line in lines if _keep(line, level, no_driver))
            with contextlib.suppress(OSError):
                while kept:
                    kept = kept[os.write(2, kept) :]


def native_logs_filtered(silent_on_error: bool = False) -> contextlib.AbstractContextManager:
    """A context in which what TensorFlow's and LiteRT's C++ code logs below TF_CPP_MIN_LOG_LEVEL is dropped, for the
    calls that log where the level does not reach (a LiteRT interpreter's first call: "INFO: Created TensorFlow Lite
    XNNPACK delegate for CPU."); and, if silent_on_error, everything they wrote when they raise, for calls whose
    exception says it in fewer words (the TFLite converter's dump of the model when it cannot convert an op)."""
    level = _min_log_level()
    return _stderr_filtered(level, False, silent_on_error) if level > 0 else contextlib.nullcontext()


def _import_quietly(exec_module: Callable[[ModuleType], None], module: ModuleType) -> None:
    """TensorFlow's first import under _stderr_filtered."""
    level = _min_log_level()
    if level <= 0:
        return exec_module(module)
    no_driver = not _nvidia_driver_loads()
    with _stderr_filtered(level, no_driver):
        exec_module(module)
        if no_driver:
            # Any failure here comes back, and shows, where a stage first uses a device.
            with contextlib.suppress(Exception):
                module.config.list_physical_devices()


def install() -> None:
    """Quiet the first `import tensorflow` of this process (`import keras` does one), unless it already happened."""
    on_first_import(("tensorflow",), _import_quietly)
