"""The machine line each stage logs: what computes the run, worded for a person."""

import pytest

from mnist_dvc.core import runtime

pytest.importorskip("tensorflow")


@pytest.mark.parametrize(("cpus", "words"), [({0}, ", 1 core, "), ({0, 1}, ", 2 cores, ")])
def test_the_machine_line_counts_the_cores_the_run_may_use(monkeypatch, cpus, words):
    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: cpus)
    assert words in runtime.machine()
