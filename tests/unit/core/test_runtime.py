"""How TensorFlow is set up before it loads, and the machine line each stage logs."""

import os

import pytest

from mnist_dvc.core import runtime


@pytest.mark.parametrize(("cpus", "words"), [({0}, ", 1 core, "), ({0, 1}, ", 2 cores, ")])
def test_the_machine_line_counts_the_cores_the_run_may_use(monkeypatch, cpus, words):
    pytest.importorskip("tensorflow")
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: cpus)
    assert words in runtime.machine()


def test_a_program_started_with_the_environment_as_started_inherits_none_of_this_process_s_settings(monkeypatch):
    """A benchmark imports the project, which sets up its own process for the same bytes; the scripts it times
    must run as their users run them."""
    monkeypatch.setattr(runtime, "_as_started", {})
    for name in (*runtime.CONFIGURED, runtime.FAST_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    runtime.configure()
    assert (os.environ["ONEDNN_MAX_CPU_ISA"], os.environ["TF_NUM_INTRAOP_THREADS"]) == ("AVX2", "1")
    env = runtime.environment_as_started()
    assert not {"ONEDNN_MAX_CPU_ISA", "TF_NUM_INTRAOP_THREADS", "TF_ENABLE_ONEDNN_OPTS"} & env.keys()
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "0"  # the user's own value
