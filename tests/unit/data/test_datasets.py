import gzip

import pytest
import yaml

from mnist_dvc.core.errors import DataError, ParamsError
from mnist_dvc.data.datasets import ROLES, load_dataset, read_verified
from tests.helpers.data import dataset_entry, tiny_payloads, write_gz


def test_project_definitions_are_valid():
    for name in ("mnist", "fashion-mnist"):
        dataset = load_dataset(name)
        assert set(dataset.files) == set(ROLES)
        assert dataset.image_shape == (28, 28)
        assert len(dataset.classes) == 10
        assert all(mirror.startswith("http") for mirror in dataset.mirrors)


def test_the_subject_is_what_the_images_show_and_has_a_default(tmp_path):
    assert load_dataset("mnist").subject == "handwritten digits"
    assert load_dataset("fashion-mnist").subject == "articles of clothing"
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump({"tiny": dataset_entry(tiny_payloads(20, 10))}))
    assert load_dataset("tiny", path).subject == "tiny images"


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ParamsError, match="prepare.dataset = 'cifar'.*mnist, fashion-mnist"):
        load_dataset("cifar")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.update(mirrors="http://x/"), "mirrors"),
        (lambda e: e.update(image_shape=[28]), "image_shape"),
        (lambda e: e.update(classes=["only"]), "classes"),
        (lambda e: e["files"].pop("test_labels"), "files"),
        (lambda e: e["files"]["test_labels"].update(idx_sha256="abc"), "64 lowercase hex"),
        (lambda e: e.update(subject=""), "subject = ''; expected what the images show"),
    ],
)
def test_malformed_definitions_are_rejected(tmp_path, change, message):
    entry = dataset_entry(tiny_payloads(20, 10))
    change(entry)
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml.safe_dump({"tiny": entry}))
    with pytest.raises(ParamsError, match=message):
        load_dataset("tiny", path)


@pytest.fixture
def labels_file(tmp_path):
    payload = tiny_payloads(20, 10)["train_labels"]
    entry = dataset_entry({"train_labels": payload})
    from mnist_dvc.data.datasets import RawFile

    raw_file = RawFile(**entry["files"]["train_labels"])
    path = tmp_path / raw_file.name
    write_gz(path, payload)
    return path, raw_file, payload


def test_verified_file_gives_its_payload(labels_file):
    path, raw_file, payload = labels_file
    assert read_verified(path, raw_file) == payload


def test_recompressed_copy_is_accepted(labels_file):
    path, raw_file, payload = labels_file
    path.write_bytes(gzip.compress(payload, compresslevel=1, mtime=12345))
    assert read_verified(path, raw_file) == payload


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda data: b"", "file is empty"),
        (lambda data: b"PK\x03\x04 not gzip", "not a gzip file"),
        (lambda data: data[: len(data) // 2], "gzip data is truncated"),
        (lambda data: gzip.compress(gzip.decompress(data) + b"\0"), "checksum mismatch"),
    ],
)
def test_bad_files_are_rejected_with_the_reason(labels_file, corrupt, message):
    path, raw_file, _ = labels_file
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(DataError, match=f"{path.name}: {message}"):
        read_verified(path, raw_file)
