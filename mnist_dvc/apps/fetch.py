"""fetch: get a dataset's raw files into data/raw/<dataset>/, verified, and have DVC track the folder.

Not a pipeline stage: run it once for each dataset you use (`./tasks.sh repro` runs it for the dataset that
params.yaml names). Files already in the folder are verified against datasets.yaml and never replaced; the
missing ones are downloaded from the dataset's mirrors. The pipeline's check stage then records data/raw/ in
dvc.lock (it checks every raw file first), so that DVC versions it, pushes it to the remote and notices any
change to it.
"""

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.errors import DataError
from mnist_dvc.core.params import Section, read_params
from mnist_dvc.data.datasets import load_dataset
from mnist_dvc.data.download import obtain
from mnist_dvc.data.params import PrepareParams


class Params(Section):
    """The one param fetch reads: the dataset that prepare.dataset names, when none is given."""

    prepare: PrepareParams


def track() -> None:
    """`dvc repro check`: the check stage checks every raw file, then DVC records data/raw/ and caches it."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo() as repo:
        repo.scm_context.quiet = True  # this command says what to commit, once
        try:
            repo.reproduce("check")
        except DvcException:
            raise DataError(f"{paths.RAW_DIR}/: not recorded by DVC; the check stage's error above says why") from None


def main() -> None:
    args = parse_args(
        __doc__,
        add_arguments=lambda parser: parser.add_argument(
            "datasets", nargs="*", metavar="DATASET", help="entries of datasets.yaml (default: prepare.dataset)"
        ),
    )
    named_by = "DATASET" if args.datasets else f"{args.params}: prepare.dataset"
    for name in args.datasets or [read_params(args.params, Params).prepare.dataset]:
        dataset = load_dataset(name, named_by=named_by)
        directory = paths.raw_dir(name)
        for raw_file in dataset.files.values():
            outcome = obtain(raw_file, dataset.mirrors, directory)
            print(f"fetch: {directory / raw_file.name}: {outcome}")
    track()
    print(f"fetch: {paths.RAW_DIR}/ is recorded in dvc.lock by the check stage (commit dvc.lock if it changed)")


if __name__ == "__main__":
    run_command("fetch", main)
