"""A sweep's trials: DVC's own grid expansion of -S, names that depend on the overrides alone, and the commit
message that records how to run a trial again."""

import pytest

from mnist_dvc.apps.sweep.plan import (
    SweepError,
    Trial,
    check_sweep_name,
    compare_command,
    grid,
    is_grid,
    is_trial_of,
    make_trial,
    overrides_from_message,
    trial_name,
)


def test_a_grid_is_every_combination_in_dvcs_order_with_the_fixed_values_in_each():
    trials = grid("g", ["recipe=cnn", "train.learning_rate=0.001,0.003", "train.batch_size=range(128,385,128)"])
    assert [trial.overrides for trial in trials] == [
        ("recipe=cnn", f"train.learning_rate={rate}", f"train.batch_size={batch}")
        for rate in ("0.001", "0.003")
        for batch in (128, 256, 384)
    ]
    assert len({trial.name for trial in trials}) == 6


def test_a_grid_names_other_params_files_as_dvc_exp_run_does():
    trials = grid("g", ["train.epochs=1,2", "other.yaml:x=3"])
    assert [trial.overrides for trial in trials] == [
        ("train.epochs=1", "other.yaml:x=3"),
        ("train.epochs=2", "other.yaml:x=3"),
    ]


def test_a_value_given_twice_is_one_trial():
    assert len(grid("g", ["train.epochs=1,1,2"])) == 2


def test_names_depend_on_the_overrides_not_their_order_and_are_refs_git_takes():
    name = trial_name("grid", ["a=1", "b=2"])
    assert name == trial_name("grid", ["b=2", "a=1"]) != trial_name("grid", ["a=1", "b=3"])
    assert name.startswith("grid-") and len(name) == len("grid-") + 8
    assert is_trial_of("grid", name) and not is_trial_of("gri", name) and not is_trial_of("grid-a", name)


@pytest.mark.parametrize(
    ("set_param", "problem"),
    [
        ("train.learning_rate=[0.001", "no viable alternative at input '[0.001'"),
        ("train.learning_rate=glob(*)", "Glob override 'train.learning_rate=glob(*)' is not supported."),
        ("train.epochs=interval(1,2)", "BasicSweeper does not support sweep type : INTERVAL_SWEEP"),
    ],
)
def test_a_bad_value_is_one_line(set_param, problem):
    with pytest.raises(SweepError) as raised:
        grid("g", [set_param])
    assert str(raised.value) == f"-S {set_param}: {problem}"


def test_is_grid_tells_a_sweep_from_single_values():
    assert is_grid(["recipe=cnn", "train.epochs=1,2"])
    assert not is_grid(["recipe=cnn", "train.epochs=2"])
    assert not is_grid([])


@pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "x" * 41])
def test_a_sweep_name_must_suit_a_git_ref(name):
    with pytest.raises(SweepError, match="^--name"):
        check_sweep_name(name)
    assert check_sweep_name("cnn_lr-1") == "cnn_lr-1"


def test_the_commit_message_gives_the_overrides_back_quoted_values_included():
    trial = make_trial("s", ["recipe=cnn", "train.model.filters=[16,32]", "x='a b'"])
    assert trial.command == "dvc exp run -S recipe=cnn -S 'train.model.filters=[16,32]' -S 'x='\"'\"'a b'\"'\"''"
    assert overrides_from_message("s", trial.message("s")) == trial.overrides
    assert overrides_from_message("other", trial.message("s")) is None
    assert overrides_from_message("s", "a commit of someone else") is None
    assert overrides_from_message("s", Trial("s-1", ()).message("s")) == ()


def test_the_comparison_keeps_the_varied_params_and_the_scores():
    command = compare_command(["train.learning_rate", "train.model.filters"])
    assert command == (
        "dvc exp show --drop '.*' --keep "
        "'^(Experiment|val\\.accuracy|test\\.accuracy|test\\.loss|train\\.learning_rate|train\\.model\\.filters)$' "
        "--sort-by metrics/test.json:test.accuracy --sort-order desc"
    )
