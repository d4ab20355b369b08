"""The same bytes on every machine: training gives the same model, metrics and curves on one core as on all of
them, and with oneDNN held to fewer instruction sets, as on a CPU that lacks the newer ones.

A machine with AVX-512 runs here as itself and as one with AVX2 alone (ONEDNN_MAX_CPU_ISA=AVX2); a machine
with several cores as itself and as one with a single core (its affinity cut to one CPU). Without the
project's settings (mnist_dvc/core/runtime.py) oneDNN picks other kernels and splits work by the thread count,
and these tests fail.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_dvc.core import runtime
from mnist_dvc.core.params import compose
from tests.helpers.project import TINY_CNN, make_project, project_env, run

# Everything the train stage writes.
OUTPUTS = ("models/model.keras", "metrics/train.json", "metrics/train")


def one_cpu() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


# name -> (environment changes, what runs in the child before it starts)
MACHINES = {
    "all cores": ({}, None),
    "one core": ({}, one_cpu),
    "AVX2 alone": ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, None),
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("determinism") / "project")
    run(["dvc", "repro", "prepare"], root)
    return root


def trained(root: Path, machine: str) -> tuple[dict[str, bytes], str]:
    """What the train stage writes when run as on that machine, and what it printed."""
    changes, before = MACHINES[machine]
    env = {**project_env(), **changes}
    env.pop(runtime.FAST_ENV, None)
    result = subprocess.run(
        [sys.executable, "-m", "stages.train"], cwd=root, env=env, capture_output=True, text=True, preexec_fn=before
    )
    assert result.returncode == 0, result.stderr
    files = [root / out for out in OUTPUTS if (root / out).is_file()]
    files += [path for out in OUTPUTS for path in sorted((root / out).rglob("*")) if path.is_file()]
    return {str(path.relative_to(root)): path.read_bytes() for path in files}, result.stdout


@pytest.mark.parametrize("recipe", [[], TINY_CNN], ids=["mlp", "cnn with every recipe"])
def test_training_gives_the_same_bytes_on_every_machine(prepared, recipe):
    compose(prepared / "params.yaml", recipe, prepared)
    outputs = {machine: trained(prepared, machine) for machine in MACHINES}
    reference, _ = outputs["all cores"]
    assert sorted(reference) == [
        "metrics/train.json",
        "metrics/train/accuracy.tsv",
        "metrics/train/loss.tsv",
        "models/model.keras",
    ]
    differ = {
        machine: sorted(path for path in reference if files.get(path) != reference[path])
        for machine, (files, _) in outputs.items()
    }
    assert not any(differ.values()), f"outputs that differ from all cores': {differ}"
    # The machine is in the log, never in an output.
    for _, printed in outputs.values():
        assert "AVX2 kernels, one thread per op: the same bytes on every AVX2 CPU" in printed
    assert not any(b"AMD" in data or b"Intel" in data for data in reference.values())
