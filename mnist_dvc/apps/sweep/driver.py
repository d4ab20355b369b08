"""The driver of a sweep: it hands the trials to a Dask cluster, takes their outcomes as they come, keeps the
sweep's record and brings every finished trial into this repository as a DVC experiment.

Without --scheduler the cluster is Dask's LocalCluster, started here and stopped at the end: its workers clone
this repository and send their experiments and outputs back into it (its DVC cache serves as their remote), so
nothing else is needed. With --scheduler the workers are wherever `dask worker` runs; they clone the git remote
and share through the DVC remote, from which the driver pulls each trial as it finishes.
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_dvc.apps.sweep import repository, worker
from mnist_dvc.apps.sweep.page import PageTrial, varied_params, write_page
from mnist_dvc.apps.sweep.plan import SweepError, Trial, compare_command, overrides_from_message
from mnist_dvc.apps.sweep.search import Search
from mnist_dvc.apps.sweep.worker import FAILED, FINISHED, UNUSABLE, Job
from mnist_dvc.core import paths
from mnist_dvc.core.files import read_json, write_json

# The sweep's record and page: sweeps/<name>.json and sweeps/<name>.html, not versioned.
SWEEPS_DIR = Path("sweeps")
METRICS_FILES = (str(paths.TEST_METRICS), str(paths.TRAIN_METRICS))
# The embedded cluster's workers share through this repository's DVC cache, named so in their clones.
LOCAL_REMOTE_NAME = "sweep"
# How many times a trial runs again after its worker died running it; the embedded cluster's setting.
ALLOWED_FAILURES = 1
WORKERS_TIMEOUT_S = 60
EVENTS_TOPIC = "mnist-sweep"


@dataclass(frozen=True)
class Options:
    sweep: str
    scheduler: str | None  # None: the embedded LocalCluster
    workers: int  # the embedded cluster's
    git_remote: str
    dvc_remote: str | None  # a DVC remote's name; None: the default one


@dataclass(frozen=True)
class Objective:
    """What makes a trial the best: a metric, and whether more is better."""

    metric: str = "val.accuracy"
    maximize: bool = True

    def best(self, entries: dict[str, dict]) -> str | None:
        scored = [name for name, entry in entries.items() if self.metric in entry.get("metrics", {})]
        if not scored:
            return None
        pick = max if self.maximize else min
        return pick(scored, key=lambda name: entries[name]["metrics"][self.metric])


class Record:
    """What is known of each trial of the sweep on this commit: its overrides, outcome, metrics, params and fit
    time, kept in sweeps/<sweep>.json and written after every trial, so that an interrupted sweep loses nothing."""

    def __init__(self, sweep: str, commit: str) -> None:
        self.sweep, self.commit = sweep, commit
        self.path = SWEEPS_DIR / f"{sweep}.json"
        data = read_json(self.path) if self.path.is_file() else {}
        self.trials: dict[str, dict] = data.get("trials", {}) if data.get("commit") == commit else {}

    def finished(self, name: str) -> bool:
        return self.trials.get(name, {}).get("status") == FINISHED

    def update(self, name: str, entry: dict[str, Any]) -> None:
        known = self.trials.get(name, {})
        if entry.get("fit_seconds") is None and known.get("fit_seconds") is not None:
            entry = {**entry, "fit_seconds": known["fit_seconds"]}  # restored from the run-cache: it trained before
        self.trials[name] = {**known, **entry}
        write_json(self.path, {"sweep": self.sweep, "commit": self.commit, "trials": self.trials})

    def reconcile(self, names: list[str]) -> None:
        """Hold the record to the experiments that exist: those of the sweep found in git are finished (read from
        their commits if the record lacks them), and a finished trial whose experiment was removed is not."""
        for name, entry in list(self.trials.items()):
            if entry.get("status") == FINISHED and name not in names:
                del self.trials[name]
        for name in names:
            if not self.finished(name) or "params" not in self.trials[name]:
                self.update(name, found_trial(self.sweep, self.commit, name))
        write_json(self.path, {"sweep": self.sweep, "commit": self.commit, "trials": self.trials})


def found_trial(sweep: str, commit: str, name: str) -> dict[str, Any]:
    """A finished trial's record entry, read from its experiment's commit."""
    found = repository.read_trial(commit, name, METRICS_FILES)
    overrides = overrides_from_message(sweep, found["message"]) or ()
    return {"status": FINISHED, "overrides": list(overrides), "metrics": found["metrics"], "params": found["params"]}


class GridSource:
    """The trials of a grid, in order, but those that finished before."""

    def __init__(self, trials: list[Trial], record: Record) -> None:
        self.pending = [trial for trial in trials if not record.finished(trial.name)]
        self.total, self.capacity = len(trials), None  # the grid goes to Dask at once
        self.before = self.total - len(self.pending)

    def next(self) -> Trial | None:
        return self.pending.pop(0) if self.pending else None

    def done(self, trial: Trial, metrics: dict | None) -> None:
        pass


class SearchSource:
    """Trials asked of Optuna one by one, until the budget of distinct trials is spent; those that finished before
    are told first and count in the budget."""

    # How many times in a row Optuna may offer points already tried before the search stops: a small space of
    # choices can run out of new points.
    REPEATS = 10

    def __init__(self, search: Search, budget: int, record: Record) -> None:
        self.search, self.total, self.record = search, budget, record
        self.capacity: int | None = 1
        self.numbers: dict[str, list[int]] = {}  # the study's numbers of each running trial
        self.names = {
            name
            for name, entry in record.trials.items()
            if entry.get("status") == FINISHED and search.add_finished(tuple(entry["overrides"]), entry["metrics"])
        }
        self.before = len(self.names)

    def next(self) -> Trial | None:
        for _ in range(self.REPEATS):
            if len(self.names) >= self.total:
                return None
            number, trial = self.search.ask()
            if trial.name in self.numbers:  # running: told when it ends
                self.numbers[trial.name].append(number)
            elif trial.name in self.names:  # finished: its score is known
                self.search.tell(number, self.record.trials[trial.name]["metrics"])
            else:
                self.names.add(trial.name)
                self.numbers[trial.name] = [number]
                return trial
        return None

    def done(self, trial: Trial, metrics: dict | None) -> None:
        for number in self.numbers.pop(trial.name, []):
            self.search.tell(number, metrics)


Source = GridSource | SearchSource


def run_sweep(options: Options, make_source: Callable[[Record], Source], objective: Objective) -> int:
    """Run the sweep's trials that have not finished; return how many failed."""
    repository.project_root()
    commit = repository.base_commit()
    left_out = repository.uncommitted()
    if left_out:
        print(
            f"sweep: note: the trials run HEAD ({commit[:7]}) as committed, without your changes to "
            + ", ".join(left_out)
        )
    job, pull_from = _job(options, commit)
    record = Record(options.sweep, commit)
    if pull_from:
        remote, dvc_remote_name = pull_from
        missing = set(repository.remote_trials(remote, commit, options.sweep)) - set(
            repository.local_trials(commit, options.sweep)
        )
        if missing:
            problem = repository.pull(remote, dvc_remote_name, sorted(missing))
            if problem:
                raise SweepError(f"cannot pull the trials that finished on {remote}: {problem}")
    record.reconcile(repository.local_trials(commit, options.sweep))
    source = make_source(record)
    started = time.monotonic()
    with _cluster(options) as client:
        _check_workers(client, job)
        if source.capacity is not None:
            source.capacity = max(1, sum(client.nthreads().values()))
        print(f"sweep {options.sweep}: {source.total} trials on {commit[:7]}; {source.before} finished before")
        try:
            return _dispatch(client, job, options, source, record, pull_from)
        finally:
            _summary(options.sweep, record, objective, time.monotonic() - started)


def _job(options: Options, commit: str) -> tuple[Job, tuple[str, str] | None]:
    """Where the workers get the project and send their results, and where the driver pulls them from."""
    head_params = repository.head_params()
    dataset = head_params.get("prepare", {}).get("dataset")
    data = (paths.raw_dir(dataset).as_posix(),) if dataset else ()
    for raw_dir in data:
        repository.check_data_recorded(raw_dir)
    if options.scheduler is None:
        job = Job(str(Path.cwd()), commit, repository.cache_dir(), LOCAL_REMOTE_NAME, data, METRICS_FILES)
        return job, None
    git_url = repository.remote_url(options.git_remote)
    repository.check_pushed(options.git_remote, commit)
    name, url = repository.dvc_remote(options.dvc_remote)
    return Job(git_url, commit, url, name, data, METRICS_FILES), (options.git_remote, name)


@contextmanager
def _cluster(options: Options) -> Iterator[Any]:
    """A Dask client: of the scheduler named, or of a LocalCluster started here, whose workers die with it."""
    import cloudpickle
    import dask
    from distributed import Client, LocalCluster

    cloudpickle.register_pickle_by_value(worker)
    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="10s")
        except (OSError, TimeoutError) as error:
            raise SweepError(
                f"--scheduler {options.scheduler}: cannot connect ({str(error).splitlines()[0]}); "
                "is `dask scheduler` running there?"
            ) from None
        cluster = None
    else:
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = LocalCluster(
                n_workers=options.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
    try:
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except TimeoutError:
            raise SweepError(
                f"no worker joined {options.scheduler} in {WORKERS_TIMEOUT_S} s; start one: dask worker "
                f"{options.scheduler}"
            ) from None
        client.subscribe_topic(EVENTS_TOPIC, _print_event)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class _Call:
    """A call made when it is unpickled. Dask pickles a task with plain pickle, which names a function by its module,
    so the scheduler and the workers would have to import this project; this is sent as bytes instead, and a worker
    running `cloudpickle.loads` on them runs the function, whose code (worker.py) cloudpickle carries by value."""

    def __init__(self, function: Any, *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple:
        return self.function, self.args


def _submit(client: Any, function: Any, *args: Any, **options: Any) -> Any:
    """Submit function(*args) so that no machine of the cluster needs this project on its import path."""
    import cloudpickle

    return client.submit(cloudpickle.loads, cloudpickle.dumps(_Call(function, *args)), pure=False, **options)


def _print_event(event: tuple[float, dict]) -> None:
    _, message = event
    print(f"sweep: {message['started']} started{_where({**message, 'worker': message.get('name')})}")


def _where(report: dict) -> str:
    """Where a trial ran: ' on HOST, worker NAME'."""
    host, name = report.get("host"), report.get("worker")
    return (f" on {host}" if host else "") + (f", worker {name}" if name else "")


def _check_workers(client: Any, job: Job) -> None:
    """Every worker gets ready (its clone, the remote, the raw data); one line for each that cannot."""
    addresses = sorted(client.nthreads())
    run = uuid.uuid4().hex[:8]
    futures = {
        address: _submit(client, worker.check, job, key=f"check-{run}-{address}", workers=[address])
        for address in addresses
    }
    outcomes = {address: _outcome(future) for address, future in futures.items()}
    unusable = {address: outcome for address, outcome in outcomes.items() if outcome["status"] != FINISHED}
    for address, outcome in unusable.items():
        print(f"sweep: worker {address} on {outcome.get('host', '?')}: {outcome['error']}")
    if unusable:
        raise SweepError(
            f"{len(unusable)} of {len(addresses)} workers cannot run trials (above); fix them or stop them, "
            "then run the sweep again"
        )
    hosts = sorted({outcome["host"] for outcome in outcomes.values()})
    print(f"sweep: {len(addresses)} worker(s) ready on {', '.join(hosts)}")


def _dispatch(
    client: Any, job: Job, options: Options, source: Source, record: Record, pull_from: tuple[str, str] | None
) -> int:
    """Keep the cluster busy with the source's trials; take each outcome as it comes. Return how many failed."""
    from distributed import as_completed

    queue = as_completed()
    running: dict[str, Trial] = {}

    def fill() -> None:
        while source.capacity is None or len(running) < source.capacity:
            trial = source.next()
            if trial is None:
                return
            message = trial.message(options.sweep)
            future = _submit(
                client, worker.run_trial, job, trial.name, trial.overrides, message, key=f"trial-{trial.name}"
            )
            running[future.key] = trial
            queue.add(future)

    failed = 0
    fill()
    for future in queue:
        trial = running.pop(future.key)
        outcome = _outcome(future)
        future.release()
        if outcome["status"] == FINISHED and pull_from:
            problem = repository.pull(pull_from[0], pull_from[1], [trial.name])
            if problem:
                outcome = {**outcome, "status": FAILED, "error": f"finished, but could not be pulled: {problem}"}
        if outcome["status"] == FINISHED:
            entry = {**found_trial(options.sweep, job.commit, trial.name), **_kept(outcome)}
        else:
            entry = {**_kept(outcome), "status": FAILED}
            failed += 1
        record.update(trial.name, {**entry, "overrides": list(trial.overrides)})
        print(_line(trial, record.trials[trial.name], outcome))
        source.done(trial, entry.get("metrics") if entry["status"] == FINISHED else None)
        fill()
    return failed


def _outcome(future: Any) -> dict:
    """A task's result, or a failed one that says why in one line: a worker that died, an unexpected error."""
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker as error:
        return {
            "status": FAILED,
            "error": f"its worker died while running it, {error.allowed_failures + 1} times "
            f"(the scheduler's distributed.scheduler.allowed-failures is {error.allowed_failures})",
        }
    except Exception as error:  # a bug or a broken worker: one line, and the sweep goes on
        lines = str(error).strip().splitlines() or [""]
        return {"status": FAILED, "error": f"{type(error).__name__}: {lines[0]}"}


def _kept(outcome: dict) -> dict:
    """What the record keeps of a worker's report."""
    kept = {
        key: outcome[key] for key in ("status", "host", "worker", "ran", "fit_seconds", "seconds") if key in outcome
    }
    if outcome.get("error"):
        where = f"{outcome['host']}: " if outcome["status"] == UNUSABLE else ""
        kept["error"] = where + outcome["error"]
    return kept


def _line(trial: Trial, entry: dict, outcome: dict) -> str:
    where = _where(outcome)
    if entry["status"] != FINISHED:
        return f"sweep: {trial.name} failed{where}: {entry['error']}"
    seconds = sum(outcome.get("seconds", {}).values())
    how = "restored from the run-cache" if not outcome.get("ran") else f"ran {', '.join(outcome['ran'])}"
    accuracy = entry["metrics"].get("test.accuracy")
    score = f"test accuracy {accuracy:.4f}" if accuracy is not None else "no test accuracy"
    return f"sweep: {trial.name} finished{where} in {seconds:.0f} s ({how}): {score}; {' '.join(trial.overrides)}"


def _summary(sweep: str, record: Record, objective: Objective, seconds: float) -> None:
    """The sweep's page, and where things are: the best trial, its command, the comparison."""
    entries = record.trials
    finished = {name: entry for name, entry in entries.items() if entry.get("status") == FINISHED}
    failed = len(entries) - len(finished)
    print(f"sweep {sweep}: {len(finished)} finished, {failed} failed; {seconds:.0f} s")
    if not entries:
        return
    trials = [
        PageTrial(
            name=name,
            overrides=tuple(entry.get("overrides", ())),
            status=entry["status"],
            params=entry.get("params", {}),
            metrics=entry.get("metrics", {}),
            fit_seconds=entry.get("fit_seconds"),
            error=entry.get("error"),
        )
        for name, entry in sorted(entries.items())
    ]
    best = objective.best(finished)
    page = write_page(SWEEPS_DIR / f"{sweep}.html", sweep, trials, best, objective.metric)
    print(f"sweep: page: {page}")
    if best:
        entry = finished[best]
        print(
            f"sweep: best by {objective.metric}: {best} ({objective.metric} {entry['metrics'][objective.metric]:.4f})"
        )
        print(f"sweep: keep it: dvc exp apply {best}; run it again: {Trial(best, tuple(entry['overrides'])).command}")
        print(f"sweep: compare: {compare_command(varied_params(trials))}")
