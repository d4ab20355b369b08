"""End to end: the real `dvc repro` in a temporary git repository, on tiny generated data."""

import json
import shutil

import numpy as np
import pytest
import yaml

from tests.conftest import make_project, run

pytestmark = pytest.mark.e2e

STAGES = ("prepare", "train", "evaluate")


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")]


def read_metrics(root):
    return {
        name: (root / "metrics" / name).read_bytes()
        for name in ("train/metrics.json", "test.json", "per_class.json")
    }


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """A tiny project after one full `dvc repro`, with its output; tests work on copies of it."""
    root = make_project(tmp_path_factory.mktemp("reproduced") / "project")
    result = run(["dvc", "repro"], root)
    return root, result.stdout


@pytest.fixture
def copy_of(reproduced, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(reproduced[0], root, symlinks=True)
    return root


def test_repro_runs_every_stage_and_writes_every_output(reproduced):
    root, output = reproduced
    assert [s for s in ran_stages(output) if s in STAGES] == list(STAGES)
    sizes = {}
    for split in ("train", "val", "test"):
        with np.load(root / f"data/prepared/{split}.npz", allow_pickle=False) as arrays:
            assert arrays["images"].dtype == np.uint8 and arrays["images"].shape[1:] == (28, 28)
            sizes[split] = len(arrays["labels"])
    assert sizes == {"train": 160, "val": 40, "test": 100}
    assert (root / "models/model.keras").stat().st_size > 0

    train = json.loads((root / "metrics/train/metrics.json").read_text())
    assert train["step"] == 4 and train["epochs_run"] == 5
    assert set(train["train"]) == set(train["val"]) == {"loss", "accuracy"}
    for curve in ("train/loss", "val/loss", "train/accuracy", "val/accuracy"):
        rows = (root / f"metrics/train/plots/metrics/{curve}.tsv").read_text().splitlines()
        assert len(rows) == 1 + 5
    test = json.loads((root / "metrics/test.json").read_text())["test"]
    assert test["accuracy"] > 0.5, "the tiny data is learnable: each digit lights its own band"
    per_class = json.loads((root / "metrics/per_class.json").read_text())
    assert list(per_class) == [str(d) for d in range(10)]
    assert sum(c["support"] for c in per_class.values()) == 100

    predictions = (root / "data/predictions.csv").read_text().splitlines()
    assert predictions[0] == "actual,predicted," + ",".join(f"p{k}" for k in range(10))
    assert len(predictions) == 101

    shown = json.loads(run(["dvc", "metrics", "show", "--json"], root).stdout)
    assert json.dumps(shown).count('"accuracy"') >= 3


def test_second_repro_runs_nothing(copy_of):
    output = run(["dvc", "repro"], copy_of).stdout
    assert ran_stages(output) == []
    assert "Data and pipelines are up to date" in output


def test_same_params_give_byte_identical_metrics(copy_of):
    before = read_metrics(copy_of)
    output = run(["dvc", "repro", "--force", "--downstream", "train"], copy_of).stdout
    assert "train" in ran_stages(output)
    assert read_metrics(copy_of) == before


def change_param(root, section, key, value):
    params = yaml.safe_load((root / "params.yaml").read_text())
    (params[section] if section else params)[key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_different_seed_gives_different_metrics(copy_of):
    before = read_metrics(copy_of)
    change_param(copy_of, None, "seed", 43)
    output = run(["dvc", "repro"], copy_of).stdout
    assert [s for s in ran_stages(output) if s in STAGES] == list(STAGES)
    after = read_metrics(copy_of)
    assert after["train/metrics.json"] != before["train/metrics.json"]


def test_a_train_param_reruns_train_and_what_follows_but_not_prepare(copy_of):
    change_param(copy_of, "train", "epochs", 3)
    ran = ran_stages(run(["dvc", "repro"], copy_of).stdout)
    assert "prepare" not in ran and ran[:2] == ["train", "evaluate"]
