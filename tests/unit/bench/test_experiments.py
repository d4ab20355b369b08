"""The experiments table: the anchors' rows and the ratios to them, and the robustness table."""

import sys

import pytest

from bench.experiments import KERAS_EXAMPLE, SEED_SCRIPT, main, robustness_table, table

RESULTS = {
    SEED_SCRIPT: {"wall_s": 40.0, "fit_s": 30.0, "test": {"accuracy": 0.9731}},
    KERAS_EXAMPLE: {"wall_s": 160.0, "fit_s": 150.0, "test": {"accuracy": 0.9918}},
    "cnn-fast": {
        "wall_s": 80.0,
        "fit_s": 20.0,
        "without_packaging_s": 60.0,
        "test": {"accuracy": 0.9925, "loss": 0.025},
        "val": {"accuracy": 0.9921},
        "changes": ["train.epochs=4"],
        "robustness": {"noisy": 0.97, "original": 0.993},
    },
}


def test_every_wall_time_is_a_ratio_to_both_anchors():
    lines = table(RESULTS, anchors=True).splitlines()
    assert lines[0].endswith("| × seed script | × Keras example |") and len(lines) == 5
    assert lines[2].startswith("| seed script (`bench.reference`) |") and lines[2].endswith("| 1.00x | 0.25x |")
    assert lines[4] == (
        "| cnn-fast | `train.epochs=4` | 0.9925 | 0.0250 | 0.9921 | 20.0 | 80.0 | 60.0 | 2.00x | 0.50x |"
    )


def test_without_anchors_there_are_no_ratios():
    only_recipe = {"cnn-fast": RESULTS["cnn-fast"]}
    assert "×" not in table(only_recipe, anchors=False)


def test_the_robustness_table_has_a_column_per_variant_in_evaluate_s_order_and_a_row_per_recipe():
    assert robustness_table(RESULTS).splitlines() == [
        "| recipe | original | noisy |",
        "|---|---|---|",
        "| cnn-fast | 0.993 | 0.970 |",
    ]


def test_an_interpreter_without_dvc_beside_it_is_a_one_line_error_before_anything_runs(monkeypatch, tmp_path):
    """Started as `python -m bench.experiments` with another Python than the project's, whatever PATH holds."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setattr(sys, "argv", ["experiments", "--only", "reference"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert str(exited.value) == (
        f"experiments: error: {tmp_path / 'bin'}: has no dvc; run this script with the project's environment "
        "(.venv/bin/python)"
    )


def test_anchors_without_the_mnist_files_is_a_one_line_error_before_anything_runs(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["experiments", "--anchors", "--only", "reference", "--data", str(tmp_path)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert str(exited.value).startswith(f"experiments: error: {tmp_path}: missing train-images-idx3-ubyte.gz, ")


def test_without_the_prepared_splits_it_says_to_prepare_them_before_anything_runs(monkeypatch, tmp_path):
    """The rows run from train down, so a fresh clone must run `dvc repro prepare` first."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["experiments", "--only", "reference"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert str(exited.value) == (
        "experiments: error: data/prepared/train.npz, data/prepared/val.npz, data/prepared/test.npz: not found; "
        "run `dvc repro prepare` first"
    )


def test_a_json_file_in_a_missing_folder_is_a_one_line_error_before_anything_runs(monkeypatch, tmp_path):
    """Not after the whole run, when the results are written."""
    monkeypatch.setattr(sys, "argv", ["experiments", "--only", "reference", "--json", str(tmp_path / "no" / "r.json")])
    monkeypatch.setattr("bench.experiments.check_prepared", lambda: None)
    with pytest.raises(SystemExit) as exited:
        main()
    assert (
        str(exited.value)
        == f"experiments: error: --json {tmp_path / 'no' / 'r.json'}: no folder {tmp_path / 'no'} to write it in"
    )
