"""What the benchmarks share: the environment of the programs they time."""

import os

from bench.harness import base_env
from mnist_dvc.core import runtime


def test_the_programs_a_benchmark_times_get_its_environment_as_started_not_as_configured(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "_as_started", {"ONEDNN_MAX_CPU_ISA": None, "TF_NUM_INTRAOP_THREADS": "4"})
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    env = base_env(tmp_path)
    assert "ONEDNN_MAX_CPU_ISA" not in env and env["TF_NUM_INTRAOP_THREADS"] == "4"
    assert env["PATH"].startswith(f"{tmp_path}{os.pathsep}")
