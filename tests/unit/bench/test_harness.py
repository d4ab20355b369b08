"""What the benchmarks share: the environment of the programs they time, and running dvc."""

import importlib.metadata
import os

import pytest

from bench.harness import BenchError, base_env, dvc
from mnist_dvc.core import runtime
from tests.helpers.project import project_env


def test_the_programs_a_benchmark_times_get_its_environment_as_started_not_as_configured(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "_as_started", {"ONEDNN_MAX_CPU_ISA": None, "TF_NUM_INTRAOP_THREADS": "4"})
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    env = base_env(tmp_path)
    assert "ONEDNN_MAX_CPU_ISA" not in env and env["TF_NUM_INTRAOP_THREADS"] == "4"
    assert env["PATH"].startswith(f"{tmp_path}{os.pathsep}")


def test_a_dvc_command_gives_its_stdout_or_a_bench_error_naming_it(tmp_path):
    env = project_env()
    assert dvc(["--version"], tmp_path, env).strip() == importlib.metadata.version("dvc")
    with pytest.raises(BenchError, match=r"^dvc nosuch in .* failed: ERROR: argument command: invalid choice"):
        dvc(["nosuch"], tmp_path, env)
