import gzip
import re

import pytest
import yaml

from mnist_dvc.core.errors import DataError, ParamsError
from mnist_dvc.data.datasets import ROLES, check_raw_data, load_dataset, read_verified
from tests.helpers.data import dataset_entry, install_tiny_dataset, tiny_payloads, write_gz


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
        (lambda data: data[:-8] + bytes([data[-8] ^ 1]) + data[-7:], "gzip data is corrupt (CRC check failed"),
        (lambda data: data[:30] + bytes([data[30] ^ 0x55]) + data[31:], "gzip data is corrupt"),
        (lambda data: gzip.compress(gzip.decompress(data) + b"\0"), "checksum mismatch"),
    ],
)
def test_bad_files_are_rejected_with_the_reason(labels_file, corrupt, message):
    path, raw_file, _ = labels_file
    path.write_bytes(corrupt(path.read_bytes()))
    with pytest.raises(DataError, match=re.escape(f"{path.name}: {message}")):
        read_verified(path, raw_file)


@pytest.fixture
def raw_root(tmp_path, monkeypatch):
    """A project folder with the tiny dataset in data/raw/tiny/; a second one, tiny-b, defined but not fetched."""
    monkeypatch.chdir(tmp_path)
    install_tiny_dataset(tmp_path)
    install_tiny_dataset(tmp_path, tiny_payloads(seed=5), name="tiny-b", write_files=False)
    return tmp_path / "data/raw"


def test_every_raw_file_is_checked_and_counted(raw_root):
    assert check_raw_data(load_dataset("tiny"), raw_root) == 4
    install_tiny_dataset(raw_root.parents[1], tiny_payloads(seed=5), name="tiny-b")
    assert check_raw_data(load_dataset("tiny"), raw_root) == 8, "another dataset's files are checked too"


def flip_a_byte(path, offset=-8):
    data = bytearray(path.read_bytes())
    data[offset] ^= 1
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda root: flip_a_byte(root / "tiny/train-labels-idx1-ubyte.gz"),
            "data/raw/tiny/train-labels-idx1-ubyte.gz: gzip data is corrupt (CRC check failed",
        ),
        (lambda root: (root / "tiny/t10k-images-idx3-ubyte.gz").unlink(), "t10k-images-idx3-ubyte.gz: not found"),
        (lambda root: (root / "notes.txt").write_text("x"), "data/raw/notes.txt: not the folder of a dataset"),
        (lambda root: (root / "cifar").mkdir(), "data/raw/cifar: not the folder of a dataset of datasets.yaml"),
        (
            lambda root: (root / "tiny/.DS_Store").write_text("x"),
            "data/raw/tiny/.DS_Store: not a file of dataset tiny (train-images-idx3-ubyte.gz, ",
        ),
        (
            lambda root: write_gz(root / "tiny-b/t10k-labels-idx1-ubyte.gz", b"other"),
            "data/raw/tiny-b/t10k-labels-idx1-ubyte.gz: checksum mismatch",
        ),
    ],
    ids=["crc", "missing", "stray-file", "stray-folder", "hidden-file", "other-dataset"],
)
def test_a_file_that_is_not_genuine_stops_the_check_naming_it(raw_root, change, message):
    change(raw_root)
    with pytest.raises(DataError, match=re.escape(message)) as raised:
        check_raw_data(load_dataset("tiny"), raw_root.relative_to(raw_root.parents[1]))
    assert "\n" not in str(raised.value)


def test_a_damaged_file_is_told_how_to_get_the_recorded_copy_back(raw_root):
    flip_a_byte(raw_root / "tiny/train-labels-idx1-ubyte.gz")
    with pytest.raises(DataError) as raised:
        check_raw_data(load_dataset("tiny"), raw_root.relative_to(raw_root.parents[1]))
    assert str(raised.value).endswith(
        "the file is damaged; `dvc checkout --force data/raw/tiny/train-labels-idx1-ubyte.gz` puts back the copy "
        "DVC recorded, if any, or delete it and run python -m mnist_dvc.apps.fetch tiny"
    )
