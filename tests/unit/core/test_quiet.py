"""TensorFlow is quiet on a normal run of a stage: no C++ log lines, while real errors and warnings still show."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from mnist_dvc.core import quiet
from tests.helpers.project import PROJECT_ROOT

# A line TensorFlow's C++ side logs: absl's format (`E0000 00:00:1796000155.882810  20406 file.cc:52] ...`) or the
# older one (`2024-01-31 12:00:00.000000: E tensorflow/...`); and what the start-up chatter says.
LOG_LINE = re.compile(r"^[IWEF]\d{4} |^\d{4}-\d\d-\d\d .*: [IWEF] ")
CHATTER = ("cuInit", "oneDNN", "cuda drivers", "absl::InitializeLog")

# What a stage does, as `python -m stages.<name>` runs it: the project's package first, then Keras and TensorFlow, some
# computation and one epoch of training; then a real C++ error, a C++ warning (below the level: hidden), a Python
# warning and an error that ends the run.
STAGE_LIKE = textwrap.dedent(
    """
    import mnist_dvc
    import warnings

    import keras
    import numpy as np
    import tensorflow as tf

    print(tf.constant(1) + 1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((8, 4)), np.zeros((8, 2)), epochs=1, verbose=0)
    print("trained")
    tf.print("a real C++ error", output_stream=tf.compat.v1.logging.error)
    tf.print("a C++ warning", output_stream=tf.compat.v1.logging.warning)
    warnings.warn("a real Python warning")
    raise SystemExit("a real error")
    """
)


def normal_env():
    """The environment of a normal run: without the settings that importing mnist_dvc here has put in os.environ."""
    env = dict(os.environ)
    for name in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):
        env.pop(name, None)
    return env


def test_a_stage_run_has_no_tensorflow_log_lines_but_real_errors_and_warnings_show():
    result = subprocess.run(
        [sys.executable, "-c", STAGE_LIKE],
        cwd=PROJECT_ROOT,
        env=normal_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.splitlines() == ["tf.Tensor(2, shape=(), dtype=int32)", "trained"], result.stderr
    lines = result.stderr.splitlines()
    assert [line for line in lines if any(words in line for words in CHATTER)] == []
    log_lines = [line for line in lines if LOG_LINE.match(line)]
    assert len(log_lines) == 1 and log_lines[0].startswith("E") and log_lines[0].endswith("] a real C++ error"), (
        result.stderr
    )
    assert any(line.endswith("UserWarning: a real Python warning") for line in lines), result.stderr
    assert result.returncode == 1 and lines[-1] == "a real error", result.stderr


def test_the_user_keeps_their_own_settings():
    show = "import os, mnist_dvc; print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    chosen = {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLE_ONEDNN_OPTS": "0"}
    for env, shown in ((normal_env(), "2 1\n"), ({**normal_env(), **chosen}, "0 0\n")):
        result = subprocess.run([sys.executable, "-c", show], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
        assert result.stdout == shown, result.stderr


def test_the_filter_drops_only_log_lines_below_the_level():
    pre_init = b"I0000 00:00:1796000145.673729   20406 cudart_stub.cc:31] Could not find cuda drivers on your machine\n"
    header = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    warning = b"W0000 00:00:1796000145.673729   20406 some.cc:1] a warning\n"
    error = b"E0000 00:00:1796000145.673729   20406 some.cc:1] an error\n"
    old_style = b"2024-01-31 12:00:00.000001: I tensorflow/core/platform/cpu_feature_guard.cc:182] chatter\n"
    cuinit = b"E0000 00:00:1796000155.882810   20406 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
    python = b"<string>:1: UserWarning: x\n"
    for line in (pre_init, header, warning, old_style):
        assert not quiet._keep(line, 2, no_driver=False), line
    for line in (error, cuinit, python):
        assert quiet._keep(line, 2, no_driver=False), line
    assert not quiet._keep(cuinit, 2, no_driver=True)
    assert quiet._keep(error, 2, no_driver=True)
    assert quiet._keep(warning, 1, no_driver=True) and not quiet._keep(pre_init, 1, no_driver=True)
    assert not quiet._keep(error, 3, no_driver=False)
    litert = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
    assert not quiet._keep(litert, 1, no_driver=False) and quiet._keep(litert, 0, no_driver=False)
    assert quiet._keep(b"ERROR: a LiteRT error\n", 2, no_driver=False)


def test_a_call_that_raises_can_leave_nothing_it_wrote(capfd, monkeypatch):
    """The TFLite converter dumps the graph when it fails, and its exception says what failed in one line."""
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    with pytest.raises(ValueError), quiet.native_logs_filtered(silent_on_error=True):
        os.write(2, b"a dump of the graph\n")
        raise ValueError("the op that failed")
    with quiet.native_logs_filtered(silent_on_error=True):
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nkept\n")
    assert capfd.readouterr().err == "kept\n"


def test_the_filter_writes_back_what_it_keeps_in_order(capfd):
    error = "E0000 00:00:1796000145.673431   20406 some.cc:1] an error\n"
    with quiet._stderr_filtered(2, no_driver=True):
        for text in (
            b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
            b"I0000 00:00:1796000145.673431   20406 port.cc:153] oneDNN custom operations are on.\n",
            b"first\n",
            error.encode(),
            b"last, without a newline",
        ):
            os.write(2, text)
    assert capfd.readouterr().err == "first\n" + error + "last, without a newline"
