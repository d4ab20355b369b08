"""prepare: obtain the raw dataset, check it strictly, split it, write compact arrays.

This stage never imports TensorFlow, so it starts in well under a second.
"""

from stages import paths
from stages.cli import parse_args, run_stage
from stages.data import Split, check_pair, stratified_split, write_split
from stages.datasets import load_dataset
from stages.download import obtain
from stages.idx import decode_idx
from stages.params import load_prepare_params


def main() -> None:
    args = parse_args(__doc__)
    params = load_prepare_params(args.params)
    dataset = load_dataset(params.dataset)

    arrays = {}
    for role, raw_file in dataset.files.items():
        payload = obtain(raw_file, dataset.mirrors, paths.RAW_DIR)
        arrays[role] = decode_idx(payload, str(paths.RAW_DIR / raw_file.name), ndim=3 if role.endswith("images") else 1)

    for part in ("train", "test"):
        source = f"{dataset.files[part + '_images'].name} / {dataset.files[part + '_labels'].name}"
        check_pair(arrays[f"{part}_images"], arrays[f"{part}_labels"], source, dataset.image_shape, len(dataset.classes))

    train_idx, val_idx = stratified_split(arrays["train_labels"], params.val_fraction, params.seed)
    splits = {
        "train": Split(arrays["train_images"][train_idx], arrays["train_labels"][train_idx], dataset.classes),
        "val": Split(arrays["train_images"][val_idx], arrays["train_labels"][val_idx], dataset.classes),
        "test": Split(arrays["test_images"], arrays["test_labels"], dataset.classes),
    }
    for name, split in splits.items():
        write_split(name, split)
        print(f"prepare: {name}: {len(split.labels)} images of {split.images.shape[1]}x{split.images.shape[2]}")


if __name__ == "__main__":
    run_stage("prepare", main)
