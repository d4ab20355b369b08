"""The search mode: the search space file, read strictly; Optuna's points as -S overrides; and the trials of an
earlier run told back to a new study."""

import pytest

from mnist_dvc.apps.sweep.plan import trial_name
from mnist_dvc.apps.sweep.search import SEARCH_DIR, Search, SearchSpace, find_space, read_space, text
from tests.helpers.project import PROJECT_ROOT

SPACE = """\
set: [recipe=cnn, train.epochs=2]
space:
  train.learning_rate: {low: 0.0003, high: 0.01, log: true}
  train.batch_size: [64, 128]
  train.model.dropout: {low: 0.0, high: 0.5, step: 0.1}
  train.model.filters: [[16, 32], [32, 64]]
  train.model.kernel_size: {low: 3, high: 5, step: 2}
trials: 5
"""


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return read_space(path)


def test_the_committed_search_spaces_are_valid():
    paths = sorted((PROJECT_ROOT / SEARCH_DIR).glob("*.yaml"))
    assert paths
    for path in paths:
        assert read_space(path).space


def test_a_space_is_found_by_name_or_path_and_a_missing_one_lists_the_known(tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    assert find_space("cnn") == SEARCH_DIR / "cnn.yaml"
    with pytest.raises(Exception, match=r"^--search nope: no such file, nor conf/sweep/nope.yaml; the spaces in "):
        find_space("nope")


@pytest.mark.parametrize(
    ("text_", "problem"),
    [
        ("space: {a: {low: 2, high: 1}}", "space.a: low = 2 is not below high = 1; expected low < high"),
        ("space: {a: {low: 0.0, high: 1.0, log: true}}", "space.a: low = 0.0 with log: true; expected low > 0"),
        ("space: {a: {low: 1, high: 2.5, step: 0}}", "space.a: step = 0; expected a number > 0"),
        ("space: {a: []}", "space.a: choices = []; expected a non-empty list of"),
        ("space: {a: 3}", "space.a = 3; expected a list of choices or a mapping of low, high"),
        ("space: {}", "space = {}; expected a non-empty mapping"),
        ("space: {a: [1]}\nmetric: accuracy", "metric = 'accuracy'; expected one of: val.accuracy"),
        ("space: {a: [1]}\ntrial: 3", "unknown key trial; did you mean trials?"),
        ("space: {a: [1]}\ntrials: 0", "trials = 0; expected an integer >= 1"),
        ("space: {'a b': [1]}", "space key 'a b'; expected a dotted param name"),
    ],
)
def test_a_bad_space_is_one_line_naming_the_file_and_the_problem(tmp_path, text_, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text_)
    with pytest.raises(Exception) as raised:
        read_space(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


@pytest.mark.parametrize(
    ("value", "written"),
    [(True, "true"), (None, "null"), (0.001, "0.001"), (3.0, "3.0"), (1e-05, "1e-05"), ([16, 32], "[16,32]")]
    + [("relu", "relu"), ("a b", "'a b'"), (128, "128")],
)
def test_values_are_written_as_hydra_reads_them(value, written):
    assert text(value) == written


def test_a_search_asks_points_within_the_space_as_overrides_and_is_repeatable(space):
    first = [Search("s", space).ask()[1] for _ in range(1)]
    search = Search("s", space)
    trials = [search.ask()[1] for _ in range(4)]
    assert trials[0] == first[0], "seeded: the same space asks the same points"
    for trial in trials:
        assert trial.name == trial_name("s", trial.overrides)
        assert trial.overrides[:2] == ("recipe=cnn", "train.epochs=2")
        values = dict(override.split("=", 1) for override in trial.overrides[2:])
        assert 0.0003 <= float(values["train.learning_rate"]) <= 0.01
        assert len(values["train.learning_rate"].replace("0.", "").lstrip("0").replace("e-", "")) <= 5
        assert values["train.batch_size"] in ("64", "128")
        assert values["train.model.dropout"] in ("0.0", "0.1", "0.2", "0.3", "0.4", "0.5")
        assert values["train.model.filters"] in ("[16,32]", "[32,64]")
        assert values["train.model.kernel_size"] in ("3", "5")


def test_told_scores_count_and_failed_trials_count_too(space):
    search = Search("s", space)
    one, _ = search.ask()
    two, _ = search.ask()
    search.tell(one, {"val.accuracy": 0.9})
    search.tell(two, None)
    assert len(search.study.trials) == 2
    assert search.study.best_value == 0.9


def test_the_trials_of_an_earlier_run_are_told_to_a_new_search(space):
    earlier = Search("s", space)
    _, trial = earlier.ask()
    again = Search("s", space)
    assert again.add_finished(trial.overrides, {"val.accuracy": 0.95})
    assert again.study.best_value == 0.95
    assert not again.add_finished(trial.overrides, {"test.accuracy": 0.95}), "no score of the metric searched"
    outside = tuple(o.replace("train.batch_size=64", "train.batch_size=512") for o in trial.overrides)
    outside = outside if outside != trial.overrides else tuple(o.replace("=128", "=512") for o in trial.overrides)
    assert not again.add_finished(outside, {"val.accuracy": 0.5}), "not a point of this space"
    assert not again.add_finished(("recipe=mlp", *trial.overrides[1:]), {"val.accuracy": 0.5}), "other fixed values"
    assert len(again.study.trials) == 1


def test_a_space_model_defaults_to_validation_accuracy_maximised():
    space = SearchSpace.model_validate({"space": {"a": [1, 2]}})
    assert (space.metric, space.direction, space.trials, space.set) == ("val.accuracy", "maximize", None, [])
