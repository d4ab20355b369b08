"""check: the pipeline's inputs, checked before any other stage runs: all of params.yaml, and every raw file.

It depends on the whole of params.yaml, so a key that no other stage reads (a misspelt section) stops `dvc repro`
here instead of leaving the pipeline up to date. Its output is the raw data, data/raw/, which it reads and never
writes (persist, in dvc.yaml): DVC records it in dvc.lock and caches it only once every file has passed, so a
damaged raw file is never recorded, cached or pushed. It imports no TensorFlow and runs in about a second.
"""

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.params import Section, Seed, read_all_params
from mnist_dvc.core.stage import run_stage
from mnist_dvc.data.datasets import check_raw_data, load_dataset
from mnist_dvc.data.params import PrepareParams
from mnist_dvc.model.params import TrainParams
from mnist_dvc.report.params import VisualizeParams


class Params(Section):
    """Every section of params.yaml: the sections the other stages read, all together."""

    seed: Seed
    prepare: PrepareParams
    train: TrainParams
    visualize: VisualizeParams


def main() -> None:
    args = parse_args(__doc__)
    params = read_all_params(args.params, Params)
    dataset = load_dataset(params.prepare.dataset, named_by=f"{args.params}: prepare.dataset")
    params.visualize.check_classes(len(dataset.classes), str(args.params))
    checked = check_raw_data(dataset, paths.RAW_DIR)
    print(f"check: {args.params} is valid; the {checked} files in {paths.RAW_DIR}/ match datasets.yaml")


if __name__ == "__main__":
    # data/raw is persist: DVC never deletes it, so there is nothing to put back.
    run_stage("check", main, restores=False)
