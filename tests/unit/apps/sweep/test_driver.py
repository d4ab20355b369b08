"""The driver's bookkeeping: the record that survives an interrupted sweep, the sources of trials (a grid, a
search with its budget), the best trial, and tasks that reach workers without the project on their path."""

import os
import subprocess
import sys

import cloudpickle
import pytest

from mnist_dvc.apps.sweep import worker
from mnist_dvc.apps.sweep.driver import GridSource, Objective, Record, SearchSource, _Call
from mnist_dvc.apps.sweep.plan import grid
from mnist_dvc.apps.sweep.search import Search, SearchSpace

COMMIT = "a" * 40


@pytest.fixture
def record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return Record("s", COMMIT)


def finished(metrics, overrides=(), fit=None):
    return {"status": "finished", "metrics": metrics, "overrides": list(overrides), "params": {}, "fit_seconds": fit}


def test_the_record_is_written_after_every_trial_and_read_back_for_the_same_commit(record):
    record.update("s-1", finished({"val.accuracy": 0.9}, fit=12.0))
    assert Record("s", COMMIT).finished("s-1")
    assert not Record("s", "b" * 40).finished("s-1"), "another commit, other trials"


def test_a_trial_restored_from_the_run_cache_keeps_the_fit_time_it_trained_in(record):
    record.update("s-1", finished({"val.accuracy": 0.9}, fit=12.0))
    record.update("s-1", finished({"val.accuracy": 0.9}, fit=None))
    assert record.trials["s-1"]["fit_seconds"] == 12.0


def test_the_best_trial_by_the_metric_and_its_direction():
    entries = {"a": finished({"val.loss": 0.3, "val.accuracy": 0.8}), "b": finished({"val.loss": 0.2}), "c": {}}
    assert Objective("val.accuracy").best(entries) == "a"
    assert Objective("val.loss", maximize=False).best(entries) == "b"
    assert Objective("test.accuracy").best(entries) is None


def test_a_grid_leaves_out_the_trials_that_finished(record):
    trials = grid("s", ["train.epochs=1,2,3"])
    record.update(trials[1].name, finished({"val.accuracy": 0.5}))
    source = GridSource(trials, record)
    assert (source.total, source.next(), source.next(), source.next()) == (3, trials[0], trials[2], None)


def test_a_search_counts_the_trials_that_finished_before_in_its_budget(record):
    space = SearchSpace.model_validate({"space": {"train.epochs": {"low": 1, "high": 20}}, "seed": 1})
    first_number, first = Search("s", space).ask()
    record.update(first.name, finished({"val.accuracy": 0.5}, first.overrides))
    source = SearchSource(Search("s", space), 3, record)
    assert source.before == 1
    asked = [source.next(), source.next()]
    assert None not in asked and first not in asked
    assert source.next() is None, "the budget of 3 is reached"
    for trial in asked:
        source.done(trial, {"val.accuracy": 0.6})
    assert source.names == {first.name, *(trial.name for trial in asked)}
    assert source.search.study.best_value == 0.6


def test_a_point_asked_again_is_not_run_again(record):
    space = SearchSpace.model_validate({"space": {"train.epochs": [1]}})
    source = SearchSource(Search("s", space), 3, record)
    trial = source.next()
    assert source.next() is None, "the only point runs: asked again, it is told when it ends; no new point is left"
    source.done(trial, {"val.accuracy": 0.7})
    assert len(source.search.study.trials) == 1 + SearchSource.REPEATS
    assert {t.value for t in source.search.study.trials} == {0.7}


def test_a_task_runs_where_the_project_cannot_be_imported(tmp_path):
    """Dask pickles tasks by reference; the driver sends the call as bytes that cloudpickle turns into the call."""
    cloudpickle.register_pickle_by_value(worker)
    try:
        payload = cloudpickle.dumps(_Call(worker.first_error, "train: error: bad\n"))
    finally:
        cloudpickle.unregister_pickle_by_value(worker)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    code = "import cloudpickle, sys; print(cloudpickle.loads(sys.stdin.buffer.read()))"
    result = subprocess.run(
        [sys.executable, "-c", code], input=payload, cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    assert result.stdout.decode().strip() == "train: error: bad", result.stderr.decode()
    assert subprocess.run([sys.executable, "-c", "import mnist_dvc"], cwd=tmp_path, env=env).returncode != 0
