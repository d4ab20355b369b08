"""End to end: the real `dvc repro` in a temporary git repository, on tiny generated data."""

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mnist_dvc.core.results import curve_file
from stages.visualize import FIGURES
from tests.helpers.project import (
    DEFAULT_SIGNALS,
    PROJECT_ROOT,
    STAGES,
    TINY_CNN,
    cached_stages,
    copy_of_reproduced,
    project_env,
    ran_stages,
    read_outputs,
    run,
    set_param,
)


def read_metrics(root):
    return {name: (root / "metrics" / name).read_bytes() for name in ("train.json", "test.json", "per_class.json")}


def read_exports(root):
    """Every file of the exports, their metrics and the model card, by path."""
    files = [root / "models/model.onnx", root / "models/model.tflite", root / "models/export_facts.json"]
    files += [root / "metrics/export.json"]
    files += [root / "MODEL_CARD.md", *sorted((root / "models/saved_model").rglob("*"))]
    return {str(path.relative_to(root)): path.read_bytes() for path in files if path.is_file()}


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """A tiny project after one full `dvc repro`, with its output; tests work on copies of it."""
    root = tmp_path_factory.mktemp("reproduced") / "project"
    return root, copy_of_reproduced(tmp_path_factory, root)


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

    train = json.loads((root / "metrics/train.json").read_text())
    assert train["epochs"] == 5
    assert set(train["train"]) == set(train["val"]) == {"loss", "accuracy"}
    for metric in ("loss", "accuracy"):
        rows = (root / curve_file(metric)).read_text().splitlines()
        assert [row.split("\t")[0] for row in rows] == ["epoch", "1", "2", "3", "4", "5"]
    test = json.loads((root / "metrics/test.json").read_text())["test"]
    assert test["accuracy"] > 0.5, "the tiny data is learnable: each digit lights its own band"
    per_class = json.loads((root / "metrics/per_class.json").read_text())
    assert [record["class"] for record in per_class] == [str(d) for d in range(10)]
    assert sum(record["support"] for record in per_class) == 100
    assert sorted(path.name for path in (root / "plots").iterdir()) == sorted(f"{name}.png" for name in FIGURES)

    predictions = (root / "data/predictions.csv").read_text().splitlines()
    assert predictions[0] == "actual,predicted," + ",".join(f"p{k}" for k in range(10))
    assert len(predictions) == 101

    shown = json.loads(run(["dvc", "metrics", "show", "--json"], root).stdout)
    assert json.dumps(shown).count('"accuracy"') >= 3
    table = run(["dvc", "metrics", "show"], root).stdout.splitlines()
    metrics_files = ["metrics/train.json", "metrics/test.json", "metrics/robustness.json", "metrics/export.json"]
    assert [line.split()[0] for line in table[1:]] == metrics_files
    for name in ("saved_model", "onnx", "litert"):
        assert f"{name}.labels_equal" in table[0] and f"{name}.max_diff_ppm" in table[0]

    for path in ("models/saved_model/saved_model.pb", "models/model.onnx", "models/model.tflite", "MODEL_CARD.md"):
        assert (root / path).stat().st_size > 0, path
    exported = json.loads((root / "metrics/export.json").read_text())
    assert {name: record["labels_equal"] for name, record in exported.items()} == dict.fromkeys(
        ("litert", "onnx", "saved_model"), 100
    )
    card = (root / "MODEL_CARD.md").read_text()
    model_md5 = hashlib.md5((root / "models/model.keras").read_bytes()).hexdigest()
    assert f"md5: {model_md5}" in (root / "dvc.lock").read_text() and f"MD5 `{model_md5}`" in card


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), re.S | re.M)


def test_the_snippets_of_the_docs_run_as_written_on_the_exports_without_the_project(reproduced, tmp_path):
    """Every Python block of docs/exporting.md in turn (each printing its answer), then the README's, where a project
    keeps the exports (models/) but this project's code cannot be imported."""
    root, _ = reproduced
    shutil.copytree(root / "models", tmp_path / "models")
    (readme,) = [block for block in python_blocks(PROJECT_ROOT / "README.md") if "onnxruntime" in block]
    answers = [
        f"print('README:', {name}.argmax(axis=1).tolist())" for name in ("by_onnx", "by_litert", "by_saved_model")
    ]
    script = "\n".join([*python_blocks(PROJECT_ROOT / "docs/exporting.md"), readme, *answers, "import mnist_dvc"])
    env = {key: value for key, value in project_env().items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.stderr.rstrip().endswith("No module named 'mnist_dvc'"), result.stderr
    (label,) = {line.split(":", 1)[1].strip(" []'") for line in result.stdout.splitlines()}
    assert result.stdout.splitlines() == [
        *(f"{runtime}: ['{label}']" for runtime in ("ONNX", "LiteRT", "SavedModel")),
        *[f"README: [{label}]"] * 3,
    ]


def test_second_repro_runs_nothing(copy_of):
    output = run(["dvc", "repro"], copy_of).stdout
    assert ran_stages(output) == []
    assert "Data and pipelines are up to date" in output


def test_same_params_give_byte_identical_metrics_exports_and_card(copy_of):
    before = read_metrics(copy_of), read_exports(copy_of)
    output = run(["dvc", "repro", "--force", "--downstream", "train"], copy_of).stdout
    assert "train" in ran_stages(output) and "export" in ran_stages(output)
    assert (read_metrics(copy_of), read_exports(copy_of)) == before
    assert json.loads(run(["dvc", "status", "--json"], copy_of).stdout) == {}


def test_a_different_seed_gives_a_different_split_and_model(copy_of):
    before = read_metrics(copy_of)
    set_param(copy_of, "seed", 43)
    output = run(["dvc", "repro", "train"], copy_of).stdout
    assert ran_stages(output) == ["check", "prepare", "train"]
    after = read_metrics(copy_of)
    assert after["train.json"] != before["train.json"]


def test_a_train_param_reruns_train_and_what_follows_but_not_prepare(copy_of):
    set_param(copy_of, "train.epochs", 3)
    ran = ran_stages(run(["dvc", "repro", "evaluate"], copy_of).stdout)
    assert ran == ["check", "train", "evaluate"], "the check runs on any change of params, prepare on none of train's"


def experiments(root):
    """name -> (params.yaml data, metrics by file) of every experiment in `dvc exp show --json`."""
    rows = json.loads(run(["dvc", "exp", "show", "--json"], root).stdout)
    found = {}
    for baseline in rows:
        for experiment in baseline.get("experiments") or []:
            data = experiment["revs"][0]["data"]
            metrics = {path: entry["data"] for path, entry in data["metrics"].items()}
            found[experiment["name"]] = (data["params"]["params.yaml"]["data"], metrics)
    return found


def test_experiments_with_different_params_are_both_shown(copy_of):
    run(["git", "add", "-A"], copy_of)
    run(["git", "commit", "-qm", "baseline run"], copy_of)
    # The first as far as evaluate, whose test metrics the table shows, the second as far as train, whose metrics are
    # compared: the figures and exports have tests of their own.
    first = run(["dvc", "exp", "run", "-n", "relu", "-S", "train.model.hidden_activation=relu", "evaluate"], copy_of)
    assert "Epoch 5/5" in first.stdout, "Keras' per-epoch lines must reach the console live"
    run(
        [
            "dvc",
            "exp",
            "run",
            "-n",
            "wide",
            "-S",
            "train.model.hidden_activation=sigmoid",
            "-S",
            "train.model.hidden_units=[64,32]",
            "-S",
            "train.epochs=3",
            "train",
        ],
        copy_of,
    )

    shown = experiments(copy_of)
    assert set(shown) >= {"relu", "wide"}
    (relu_params, relu_metrics), (wide_params, wide_metrics) = shown["relu"], shown["wide"]
    assert relu_params["train"]["model"]["hidden_activation"] == "relu" and relu_params["train"]["epochs"] == 5
    wide_model = wide_params["train"]["model"]
    assert wide_model["hidden_units"] == [64, 32] and wide_model["hidden_activation"] == "sigmoid"
    assert relu_metrics["metrics/train.json"]["epochs"] == 5
    assert wide_metrics["metrics/train.json"]["epochs"] == 3
    assert relu_metrics["metrics/train.json"]["val"] != wide_metrics["metrics/train.json"]["val"]
    assert "accuracy" in relu_metrics["metrics/test.json"]["test"]


def test_a_cnn_with_augmentation_and_every_recipe_runs_through_every_stage_and_exports_the_same_bytes(copy_of):
    """From the committed params, `dvc exp run -S model=cnn` switches to a CNN; every stage after train, and predict,
    take the CNN as they take the MLP, and its exports are the same bytes when made again."""
    run(["git", "add", "-A"], copy_of)
    run(["git", "commit", "-qm", "baseline run"], copy_of)
    output = run(["dvc", "exp", "run", "-n", "cnn", *(arg for o in TINY_CNN for arg in ("-S", o))], copy_of).stdout
    assert [s for s in ran_stages(output) if s in STAGES] == ["train", "evaluate", "visualize", "export", "card"]
    test = json.loads((copy_of / "metrics/test.json").read_text())["test"]
    assert test["accuracy"] > 0.2, "better than chance"

    exports = read_exports(copy_of)
    assert "| BatchNormalization |" in exports["MODEL_CARD.md"].decode()

    # Training the same CNN again gives the same bytes (tests/e2e/test_determinism.py); so does exporting it again.
    output = run(["dvc", "repro", "--force", "--single-item", "export"], copy_of).stdout
    assert ran_stages(output) == ["export"]
    assert read_exports(copy_of) == exports, "tf2onnx's names and the SavedModel's fingerprint, normalised"

    predicted = run(["python", "-m", "mnist_dvc.apps.predict", "--json", "examples/four_chalk.png"], copy_of).stdout
    assert json.loads(predicted.splitlines()[0])["path"] == "examples/four_chalk.png"


def stage_process(root, stage):
    """The pid of `python -m stages.<stage>` running in root, if any."""
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            if f"stages.{stage}".encode() in command and Path(os.readlink(proc / "cwd")) == root:
                return int(proc.name)
        except (OSError, ValueError):
            continue
    return None


def wait_for_epochs(root: Path, epochs: int, before: int, timeout: float = 120) -> None:
    """Wait until the running train stage has logged at least `epochs` epochs in metrics/train/ (and fewer than
    `before`, the length of the last good run, whose log is there until the new one starts)."""
    curve = root / curve_file("loss")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if epochs <= len(curve.read_text().splitlines()) - 1 < before:
                return
        time.sleep(0.05)
    pytest.fail("training never got going")


def without_log(outputs: dict[str, bytes]) -> dict[str, bytes]:
    return {path: data for path, data in outputs.items() if not path.startswith("metrics/train/")}


# What the stage prints and how it exits for each signal; SIGKILL gives it no say. Ctrl-C's SIGINT takes the way
# that SIGTERM takes but for its message (tests/unit/core/test_cli.py).
INTERRUPTIONS = {
    signal.SIGTERM: ("train: terminated; earlier outputs are intact", ("exited with 143",)),
    # DVC runs the command through $SHELL: bash execs it (DVC sees -9), dash forks (the shell exits 137).
    signal.SIGKILL: ("", ("exited with -9", "exited with 137")),
}


# Epochs of the last good run that an interrupted one must not replace; a run is stopped (SIGSTOP) at its third.
LONG_RUN = 20


def test_interrupted_training_keeps_the_last_good_outputs_and_recovers(copy_of):
    """As far as train, whose outputs the stages after it only read once finished."""
    set_param(copy_of, "train.epochs", LONG_RUN)
    set_param(copy_of, "train.batch_size", 8)
    run(["dvc", "repro", "train"], copy_of)
    last_good = read_outputs(copy_of)

    set_param(copy_of, "train.epochs", LONG_RUN + 1)
    for signal_number, (message, exit_statuses) in INTERRUPTIONS.items():
        output = interrupt_training(copy_of, signal_number)
        assert message in output and any(status in output for status in exit_statuses), output
        status = json.loads(run(["dvc", "status", "--json"], copy_of).stdout)
        if signal_number == signal.SIGKILL:
            # No chance to put the last good log back: the partial one stays, and DVC sees it is not the last run's.
            assert "metrics/train" in json.dumps(status["train"]), status
            assert without_log(read_outputs(copy_of)) == without_log(last_good)
        else:
            assert read_outputs(copy_of) == last_good, f"after {signal_number.name}"
        assert "train" in status

    output = run(["dvc", "repro", "train"], copy_of).stdout
    assert ran_stages(output)[-1] == "train", "the recovery trains again, no run-cache shortcut"
    assert json.loads((copy_of / "metrics/train.json").read_text())["epochs"] == LONG_RUN + 1
    assert json.loads(run(["dvc", "status", "--json", "train"], copy_of).stdout) == {}


def interrupt_training(root, signal_number) -> str:
    """Signal train partway through `dvc repro train`; return what DVC printed."""
    repro = subprocess.Popen(
        ["dvc", "repro", "train"],
        cwd=root,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **DEFAULT_SIGNALS,
    )
    wait_for_epochs(root, 3, before=LONG_RUN)
    train = stage_process(root, "train")
    os.kill(train, signal.SIGSTOP)  # held while DVC looks, so that it is caught mid-run whatever the machine's speed
    # The curves grow live: `dvc plots show` during the run shows the epochs done so far.
    shown = json.loads(run(["dvc", "plots", "show", "--json"], root).stdout)["data"]
    (curve,) = shown[str(curve_file("loss"))]
    assert 3 <= len(curve["content"]["data"]["values"]) < LONG_RUN
    os.kill(train, signal_number)
    with contextlib.suppress(ProcessLookupError):  # gone already, after SIGKILL
        os.kill(train, signal.SIGCONT)
    output, _ = repro.communicate(timeout=120)
    assert repro.returncode != 0, output
    return output


@pytest.mark.parametrize(
    ("stage", "section", "key", "value", "message"),
    [
        ("prepare", "prepare", "val_fraction", 1.5, "prepare: error: params.yaml: prepare.val_fraction = 1.5"),
        ("train", "train", "epochs", "fifty", "train: error: params.yaml: train.epochs = 'fifty'"),
        ("visualize", "visualize", "dpi", 5, "visualize: error: params.yaml: visualize.dpi = 5"),
    ],
)
def test_a_failed_stage_keeps_every_earlier_output(copy_of, stage, section, key, value, message):
    """Each stage checks its own params too, when run alone (`dvc repro` would stop at the check before it)."""
    before = read_outputs(copy_of)
    set_param(copy_of, f"{section}.{key}", value)
    result = run(["dvc", "repro", "--single-item", stage], copy_of, check=False)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert ran_stages(result.stdout)[-1] == stage
    assert read_outputs(copy_of) == before


# Every stage that the params reach but the model card's: DVC's run-cache covers no stage that keeps in git an output
# other than a metric or a plot, so the card stage, which reads files only, runs again (and writes the same card).
RUN_CACHED = ["train", "evaluate", "visualize", "export"]


def test_a_params_set_seen_before_comes_back_from_the_run_cache(copy_of):
    before = read_outputs(copy_of)
    set_param(copy_of, "train.epochs", 3)
    assert ran_stages(run(["dvc", "repro"], copy_of).stdout) == ["check", *RUN_CACHED, "card"]
    after_3_epochs = read_outputs(copy_of)
    assert after_3_epochs != before

    # The check, which has a persist output and so no run-cache, runs again: a second, not a training.
    set_param(copy_of, "train.epochs", 5)
    output = run(["dvc", "repro"], copy_of).stdout
    assert ran_stages(output) == ["check", "card"] and cached_stages(output) == RUN_CACHED, output
    assert read_outputs(copy_of) == before

    run(["git", "add", "-A"], copy_of)
    run(["git", "commit", "-qm", "baseline run"], copy_of)
    output = run(["dvc", "exp", "run", "-S", "train.epochs=3"], copy_of).stdout
    assert ran_stages(output) == ["check", "card"] and cached_stages(output) == RUN_CACHED, output
    assert read_outputs(copy_of) == after_3_epochs


def git_state(root):
    """What git sees of the workspace and its index, against the last commit."""
    return run(["git", "status", "--porcelain"], root).stdout


def test_params_are_checked_before_anything_runs_and_nothing_is_lost(copy_of):
    """All of params.yaml is checked by the first stage, so a section no stage reads stops `dvc repro` instead of
    leaving it up to date, and a bad value set by `dvc exp run -S` stops before training."""
    run(["git", "add", "-A"], copy_of)
    run(["git", "commit", "-qm", "baseline run"], copy_of)
    before = read_outputs(copy_of)
    cases = {
        ("trian", None): "check: error: params.yaml: unknown key trian; did you mean train?",
        (
            "-S",
            "train.learning_rate=nan",
        ): "check: error: params.yaml: train.learning_rate = nan; expected a number > 0",
        ("-S", "+train.epoch=3"): "check: error: params.yaml: unknown key train.epoch; did you mean train.epochs?",
    }
    for (how, what), message in cases.items():
        if how == "trian":
            with open(copy_of / "params.yaml", "a") as params:
                params.write("trian:\n  epochs: 3\n")
            result = run(["dvc", "repro"], copy_of, check=False)
        else:
            result = run(["dvc", "exp", "run", how, what], copy_of, check=False)
        assert result.returncode != 0 and message in result.stderr.splitlines(), result.stderr
        assert ran_stages(result.stdout) == ["check"], "nothing ran after the check"
        assert read_outputs(copy_of) == before
        run(["git", "checkout", "-q", "HEAD", "--", "params.yaml"], copy_of)

    # A misspelt key without `+` is refused by Hydra while it composes params.yaml, which is left as it was.
    result = run(["dvc", "exp", "run", "-S", "train.epoch=3"], copy_of, check=False)
    assert result.returncode != 0 and "Could not override 'train.epoch'" in result.stderr
    assert ran_stages(result.stdout) == [] and git_state(copy_of) == ""


def test_any_spelling_of_a_small_learning_rate_trains_and_a_diverging_one_keeps_the_last_good_outputs(copy_of):
    run(["git", "add", "-A"], copy_of)
    run(["git", "commit", "-qm", "baseline run"], copy_of)
    output = run(["dvc", "exp", "run", "-S", "train.learning_rate=0.00001", "train"], copy_of).stdout
    assert "learning_rate: 1.0e-05" in (copy_of / "params.yaml").read_text(), "DVC writes it as YAML 1.2 does"
    assert ran_stages(output) == ["check", "train"]
    last_good = read_outputs(copy_of)

    result = run(["dvc", "exp", "run", "-S", "train.learning_rate=1e38", "train"], copy_of, check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert (
        "train: error: the training diverged: loss is nan after epoch 1; expected a finite number: "
        "lower train.learning_rate (now 1e+38)"
    ) in result.stderr.splitlines()
    assert read_outputs(copy_of) == last_good
