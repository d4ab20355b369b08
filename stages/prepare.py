"""prepare: read the raw dataset, check it strictly, split it, write compact arrays.

The raw files are in data/raw/<dataset>/, tracked by DVC (`python -m mnist_dvc.apps.fetch` gets them). This stage
never imports TensorFlow, so it starts in well under a second.
"""

from mnist_dvc.core import paths
from mnist_dvc.core.cli import parse_args
from mnist_dvc.core.params import Section, Seed, read_params
from mnist_dvc.core.prepared import Split, write_splits
from mnist_dvc.core.stage import run_stage
from mnist_dvc.data.datasets import Dataset, load_dataset, read_raw_file
from mnist_dvc.data.idx import decode_idx
from mnist_dvc.data.params import PrepareParams
from mnist_dvc.data.split import check_pair, stratified_split


class Params(Section):
    """What this stage reads of params.yaml, as dvc.yaml declares."""

    seed: Seed
    prepare: PrepareParams


def read_raw(dataset: Dataset, part: str) -> Split:
    """The train or test part of the raw dataset, verified and parsed."""
    directory = paths.raw_dir(dataset.name)
    images_role, labels_role = f"{part}_images", f"{part}_labels"
    images_path, labels_path = (directory / dataset.files[role].name for role in (images_role, labels_role))
    images = decode_idx(read_raw_file(dataset, images_role, directory), str(images_path), ndim=3)
    labels = decode_idx(read_raw_file(dataset, labels_role, directory), str(labels_path), ndim=1)
    check_pair(images, labels, f"{images_path} and {labels_path}", dataset.image_shape, len(dataset.classes))
    return Split(images, labels, dataset.classes)


def main() -> None:
    args = parse_args(__doc__)
    params = read_params(args.params, Params)
    dataset = load_dataset(params.prepare.dataset, named_by=f"{args.params}: prepare.dataset")

    full_train, test = read_raw(dataset, "train"), read_raw(dataset, "test")
    train_idx, val_idx = stratified_split(full_train.labels, params.prepare.val_fraction, params.seed)
    splits = {
        "train": Split(full_train.images[train_idx], full_train.labels[train_idx], dataset.classes),
        "val": Split(full_train.images[val_idx], full_train.labels[val_idx], dataset.classes),
        "test": test,
    }
    write_splits(splits)
    for name, split in splits.items():
        height, width = split.images.shape[1:]
        print(f"prepare: {name}: {len(split.labels)} images of {height}x{width}")


if __name__ == "__main__":
    run_stage("prepare", main)
