"""The experiments table: the anchors' rows and the ratios to them, and the robustness table."""

import contextlib
import sys

import numpy as np
import pytest
import yaml

from bench.experiments import (
    KERAS_EXAMPLE,
    SEED_SCRIPT,
    command,
    fresh_clone,
    goals,
    main,
    metrics_of,
    push_experiment,
    reference_floor,
    robustness_table,
    run_all,
    run_recipe,
    seed_row,
    table,
)
from mnist_dvc.core.prepared import Split
from tests.helpers.project import PROJECT_ROOT, copy_of_reproduced, project_env, run, stage_outputs

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


def rerun_by_a_recipe(pipeline: dict) -> list[str]:
    """The stages of dvc.yaml, in order, that a change of the train section reruns: those that read it (or the whole
    of params.yaml), and those that depend on what such a stage writes anew (not a persist output, which it only
    keeps: check's raw data)."""
    rerun, written = [], []
    for name, stage in pipeline["stages"].items():
        params = [key for entry in stage.get("params", []) for key in (entry if isinstance(entry, dict) else [entry])]
        reads_train = "train" in params or "params.yaml" in params
        deps_written = any(dep == out or dep.startswith(f"{out}/") for dep in stage.get("deps", []) for out in written)
        if reads_train or deps_written:
            rerun.append(name)
            written += [path for path, options in stage_outputs(stage).items() if not options.get("persist")]
    return rerun


def test_each_row_is_the_readme_s_command_for_its_recipe_named_for_the_table():
    assert command("cnn-fast") == ["dvc", "exp", "run", "-n", "table-cnn-fast", "-S", "recipe=cnn-fast"]


def test_the_reference_whose_params_are_committed_is_forced_from_train_down():
    run = command("reference")
    assert run[run.index("--force") :] == ["--force", "--downstream", "train", "-S", "recipe=reference"]


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


@pytest.mark.parametrize("settle", ["-5", "nan", "inf", "601"])
def test_a_settle_out_of_range_is_a_one_line_error_before_anything_runs(monkeypatch, settle):
    """Negative, NaN, or longer than time.sleep() or anyone would wait."""
    monkeypatch.setattr(sys, "argv", ["experiments", "--only", "reference", "--settle", settle])
    monkeypatch.setattr("bench.experiments.check_prepared", lambda: None)
    with pytest.raises(SystemExit) as exited:
        main()
    assert str(exited.value) == f"experiments: error: --settle {settle}: expected 0 to 600 seconds"


def recipe_row(accuracy: float, wall_s: float, without_packaging_s: float = 0.0) -> dict:
    return {"wall_s": wall_s, "without_packaging_s": without_packaging_s, "test": {"accuracy": accuracy}}


def test_each_accuracy_goal_is_met_by_the_fastest_row_that_reaches_it_within_its_time():
    rows = {
        SEED_SCRIPT: RESULTS[SEED_SCRIPT],
        "slow": recipe_row(0.9930, 39.0),
        "fast": recipe_row(0.9921, 38.0),
        "best": recipe_row(0.9952, 119.0),
        "too-slow": recipe_row(0.9970, 401.0),
    }
    assert goals(rows) == [
        "test accuracy 0.992 within 1x the seed script's wall time (40.0 s): met by fast, 0.9921 in 38.0 s (0.95x)",
        "test accuracy 0.995 within 3x the seed script's wall time (120.0 s): met by best, 0.9952 in 119.0 s (2.98x)",
        "the most accurate within 10x: best, 0.9952 in 119.0 s (2.98x)",
    ]


def test_a_goal_not_met_gives_the_distance_of_the_fastest_row_that_reached_it_or_the_best_row():
    rows = {SEED_SCRIPT: RESULTS[SEED_SCRIPT], "cnn-fast": recipe_row(0.9937, 56.0, without_packaging_s=46.0)}
    assert goals(rows)[:2] == [
        "test accuracy 0.992 within 1x the seed script's wall time (40.0 s): not met; the fastest to reach it is "
        "cnn-fast, 0.9937 in 56.0 s (1.40x), 16.0 s over (46.0 s, 1.15x, without export and card)",
        "test accuracy 0.995 within 3x the seed script's wall time (120.0 s): not met; no row reached it, the best is "
        "cnn-fast, 0.9937 in 56.0 s (1.40x)",
    ]


def test_the_reference_s_fit_is_held_against_its_floor_with_or_without_the_anchors():
    reference = {**recipe_row(0.9720, 60.0), "fit_s": 27.0, "floor_s": 15.0}
    assert goals({"reference": reference}) == [
        "the reference's fit at most 1.3x the FLOP floor of its multiplies: not met, 7.5 s over; "
        "27.0 s against 15.0 s timed after it, 1.80x"
    ]
    assert goals({"reference": {**reference, "fit_s": 19.5}})[0].startswith(
        "the reference's fit at most 1.3x the FLOP floor of its multiplies: met; 19.5 s against 15.0 s"
    )
    assert goals({"reference": recipe_row(0.9720, 60.0)}) == []


def test_the_floor_is_timed_at_the_reference_s_shapes_on_the_prepared_splits_sizes(monkeypatch):
    def split(count: int) -> Split:
        return Split(np.zeros((count, 28, 28), np.uint8), np.zeros(count, np.uint8), tuple("0123456789"))

    monkeypatch.setattr("bench.experiments.read_split", lambda name: split({"train": 480, "val": 120}[name]))
    calls = []

    def time_floor(shapes: list[str], batch: int, epochs: int, sizes: tuple[int, int], *args) -> dict:
        calls.append((shapes, batch, epochs, sizes))
        return {"floor_s": 12.5}

    monkeypatch.setattr("bench.experiments.time_floor", time_floor)
    assert reference_floor({}) == 12.5
    assert calls == [(["--layers", "784,256,128,10"], 2000, 50, (480, 120))]


def test_the_seed_script_s_row_is_the_median_of_each_of_its_figures_over_its_runs():
    runs = [
        {"wall_s": 45.6, "fit_s": 37.5, "test": {"accuracy": 0.9731}},
        {"wall_s": 38.5, "fit_s": 31.0, "test": {"accuracy": 0.9731}},
        {"wall_s": 39.6, "fit_s": 30.0, "test": {"accuracy": 0.9728}},
    ]
    assert seed_row(runs) == {"wall_s": 39.6, "fit_s": 31.0, "test": {"accuracy": 0.9731}}


def test_with_anchors_the_seed_script_runs_between_the_rows_and_its_median_row_comes_first(monkeypatch):
    walls = iter([45.6, 38.5, 39.6])
    ran = []

    def anchor(name, data_dir, env):
        ran.append(name)
        if name == KERAS_EXAMPLE:
            return {"wall_s": 150.0, "fit_s": 140.0, "test": {"accuracy": 0.9918}}
        wall = next(walls)
        return {"wall_s": wall, "fit_s": wall - 8, "test": {"accuracy": 0.9731}}

    def recipe(name, env, workspace):
        ran.append(name)
        return {"wall_s": 60.0, "fit_s": 30.0, "without_packaging_s": 50.0}

    monkeypatch.setattr("bench.experiments.run_anchor", anchor)
    monkeypatch.setattr("bench.experiments.run_recipe", recipe)
    monkeypatch.setattr("bench.experiments.metrics_of", lambda name, env, workspace: {})
    monkeypatch.setattr("bench.experiments.changes", lambda name: [])
    monkeypatch.setattr("bench.experiments.fresh_clone", lambda env: contextlib.nullcontext(None))
    monkeypatch.setattr("bench.experiments.push_experiment", lambda name, workspace, env: None)
    monkeypatch.setattr("bench.experiments.time.sleep", lambda seconds: ran.append(f"idle {seconds:g} s"))
    results, seed_walls = run_all(["cnn-fast"], anchors=True, data_dir=None, env={}, settle=20)
    idle = "idle 20 s"
    assert ran == [idle, SEED_SCRIPT, idle, KERAS_EXAMPLE, idle, SEED_SCRIPT, idle, "cnn-fast", idle, SEED_SCRIPT]
    assert seed_walls == [45.6, 38.5, 39.6]
    assert list(results) == [SEED_SCRIPT, KERAS_EXAMPLE, "cnn-fast"]
    assert results[SEED_SCRIPT]["wall_s"] == 39.6 and results[SEED_SCRIPT]["fit_s"] == pytest.approx(31.6)


@pytest.mark.e2e
def test_a_row_runs_every_stage_a_recipe_changes_in_a_fresh_clone_and_its_experiment_comes_back(
    tmp_path_factory, tmp_path, monkeypatch
):
    root = tmp_path / "project"
    copy_of_reproduced(tmp_path_factory, root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "reproduced"], root)
    monkeypatch.chdir(root)
    env = project_env()
    with fresh_clone(env) as workspace:
        for split in ("train", "val", "test"):
            path = f"data/prepared/{split}.npz"
            assert (workspace / path).read_bytes() == (root / path).read_bytes()
        assert not (workspace / "models/model.keras").exists()
        row = run_recipe("relu", env, workspace)
        assert row["stages"] == rerun_by_a_recipe(yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text()))
        assert 0 < row["fit_s"] < row["without_packaging_s"] < row["wall_s"]
        assert 0 <= metrics_of("relu", env, workspace)["test"]["accuracy"] <= 1
        push_experiment("relu", workspace, env)
    assert not workspace.exists()
    assert run(["dvc", "exp", "list", "--name-only"], root).stdout.split() == ["table-relu"]
    assert not run(["git", "status", "--porcelain"], root).stdout
