"""sweep: a grid or a search of experiments, run on a Dask cluster; every trial is a named DVC experiment.

    python -m mnist_dvc.apps.sweep -S 'train.learning_rate=0.001,0.003' -S 'train.batch_size=128,256'
    python -m mnist_dvc.apps.sweep --search cnn --trials 20            # chosen by Optuna from conf/sweep/cnn.yaml
    python -m mnist_dvc.apps.sweep --scheduler tcp://HOST:8786 ...     # on a cluster of dask workers

Without --scheduler the trials run on a Dask cluster of this machine alone. Trials that finished before (same
sweep name, same commit) are not run again, and a stage that ran anywhere is restored from the run-cache.
"""

import argparse

from mnist_dvc.core.cli import parse_args, run_command


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}; expected an integer >= 1")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-S",
        "--set-param",
        dest="set_params",
        action="append",
        default=[],
        metavar="[FILE:]KEY=VALUE",
        help="as dvc exp run -S: recipe=cnn, train.epochs=3; a comma list (or range(), choice()) makes a grid",
    )
    parser.add_argument(
        "--search", metavar="SPACE", help="choose the trials with Optuna from a search space: conf/sweep/SPACE.yaml"
    )
    parser.add_argument("--trials", type=positive, help="the search's budget of trials (default: the space file's)")
    parser.add_argument(
        "--name", default="sweep", help="the sweep's name, which begins its trials' names (default: %(default)s)"
    )
    parser.add_argument(
        "--scheduler", metavar="tcp://HOST:8786", help="a running Dask scheduler (default: a cluster of this machine)"
    )
    parser.add_argument(
        "--workers", type=positive, default=1, help="workers of this machine's cluster (default: %(default)s)"
    )
    parser.add_argument(
        "--git-remote", default="origin", help="with --scheduler: the git remote workers clone (default: %(default)s)"
    )
    parser.add_argument(
        "--dvc-remote",
        metavar="NAME",
        help="with --scheduler: the DVC remote they share through (default: the default)",
    )


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0], with_params=False, add_arguments=add_arguments)
    from mnist_dvc.apps.sweep.driver import GridSource, Objective, Options, SearchSource, run_sweep
    from mnist_dvc.apps.sweep.plan import SweepError, check_sweep_name, grid, is_grid
    from mnist_dvc.apps.sweep.search import Search, find_space, read_space

    sweep = check_sweep_name(args.name)
    if args.search:
        space = read_space(find_space(args.search))
        space = space.model_copy(update={"set": [*space.set, *args.set_params]})
        if is_grid(space.set):
            raise SweepError(f"-S {' '.join(space.set)}: a search takes one value per -S; the space chooses the rest")
        budget = args.trials or space.trials
        if budget is None:
            raise SweepError(f"--search {args.search}: no trial budget; give --trials N, or trials: in the space file")
        objective = Objective(space.metric, space.direction == "maximize")

        def make_source(record):
            return SearchSource(Search(sweep, space), budget, record)
    else:
        if args.trials:
            raise SweepError("--trials: only with --search; a grid runs every combination of its -S values")
        if not args.set_params:
            raise SweepError("nothing to sweep: give -S values (a comma list is several) or --search SPACE")
        trials = grid(sweep, args.set_params)
        objective = Objective()

        def make_source(record):
            return GridSource(trials, record)

    options = Options(sweep, args.scheduler, args.workers, args.git_remote, args.dvc_remote)
    failed = run_sweep(options, make_source, objective)
    if failed:
        raise SweepError(
            f"{failed} trial(s) failed (above); the rest are kept, and running the sweep again retries them"
        )


if __name__ == "__main__":
    run_command("sweep", main, after_stop="; finished trials are kept: the same command goes on from there")
