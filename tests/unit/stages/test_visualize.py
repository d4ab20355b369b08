"""The visualize stage: it draws every figure from saved outputs alone, rejects bad inputs in one line, and
DVC reruns it only when its own deps or params change."""

import shutil
import subprocess
import sys

import pytest

from mnist_dvc.core.errors import DataError, ParamsError
from stages import visualize
from stages.visualize import FIGURES
from tests.helpers.figures import assert_readable_png, fake_run, predictions_csv, write_inputs
from tests.helpers.project import PROJECT_ROOT, project_env, set_param

RUN = fake_run()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working directory holding made-up inputs and the project's params, with a small sample grid."""
    write_inputs(tmp_path, RUN)
    (tmp_path / "params.yaml").write_text((PROJECT_ROOT / "params.yaml").read_text())
    set_param(tmp_path, "visualize.sample_images", 16)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["visualize"])
    return tmp_path


def test_writes_every_figure(workdir):
    visualize.main()
    assert sorted(path.stem for path in (workdir / "plots").iterdir()) == sorted(FIGURES)
    for name in FIGURES:
        assert_readable_png(workdir / "plots" / f"{name}.png")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (10, r"visualize.density_class = 10; expected an integer >= 0 and <= 9"),
        (-1, r"visualize.density_class = -1; expected an integer >= 0"),
        ("seven", r"visualize.density_class = 'seven'; expected an integer"),
    ],
)
def test_density_class_must_be_a_class(workdir, value, message):
    set_param(workdir, "visualize.density_class", value)
    with pytest.raises(ParamsError, match=message):
        visualize.main()


def test_predictions_of_another_test_set_are_rejected(workdir):
    rows = predictions_csv(RUN).splitlines()
    (workdir / "data/predictions.csv").write_text("\n".join(rows[:-1]) + "\n")
    with pytest.raises(DataError, match=r"data/predictions.csv: 119 rows .* do not match the 120 test images"):
        visualize.main()


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("data/predictions.csv", "actual,predicted\n1,1\n", r"data/predictions.csv: header is 'actual,predicted'; "),
        ("data/predictions.csv", None, r"data/predictions.csv: not found; run the evaluate stage first"),
        ("metrics/train/loss.tsv", None, r"metrics/train/loss.tsv: not found; run the train stage first"),
        ("metrics/train/loss.tsv", "epoch\ttrain\tval\n1\t2.0\tnan?\n", r"train/loss.tsv: not a table of numbers"),
        ("metrics/train/loss.tsv", "step\tloss\n0\t2.0\n", r"train/loss.tsv: header is 'step\\tloss'; expected 'epoch"),
        ("metrics/test.json", '{"test": {"loss": 0.1}}', r"metrics/test.json: test.accuracy = None; expected a number"),
        ("metrics/test.json", "[]", r"metrics/test.json: found list; expected {\"test\""),
        (
            "metrics/per_class.json",
            '[{"class": "0"}]',
            r"metrics/per_class.json: classes \['0'\]; expected one record per",
        ),
        ("metrics/per_class.json", '{"0": {}}', r"metrics/per_class.json: found dict; expected \[{\"class\""),
    ],
)
def test_bad_inputs_name_the_file_and_what_was_expected(workdir, path, content, message):
    if content is None:
        (workdir / path).unlink()
    else:
        (workdir / path).write_text(content)
    with pytest.raises(DataError, match=message):
        visualize.main()


def test_runs_without_tensorflow_and_fails_in_one_line(tmp_path):
    command = [
        sys.executable,
        "-c",
        "import sys, stages.visualize; print(sorted({'tensorflow', 'keras'} & set(sys.modules)))",
    ]
    loaded = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"

    env = {**project_env(), "PYTHONPATH": str(PROJECT_ROOT)}
    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "stages.visualize"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "visualize: error: data/prepared/test.npz: not found; run the stage that writes it first (dvc repro)"
    ]
