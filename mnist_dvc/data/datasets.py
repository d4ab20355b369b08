"""Dataset definitions (datasets.yaml) and the checks a raw file must pass to be used."""

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from mnist_dvc.core import remote
from mnist_dvc.core.errors import DataError, ParamsError
from mnist_dvc.core.params import load_yaml

DATASETS_FILE = Path("datasets.yaml")
GZIP_MAGIC = b"\x1f\x8b"
ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class RawFile:
    name: str
    idx_sha256: str


@dataclass(frozen=True)
class Dataset:
    name: str
    mirrors: tuple[str, ...]
    image_shape: tuple[int, int]
    classes: tuple[str, ...]
    files: dict[str, RawFile]
    subject: str  # what the images show, in the plural, for the model card: "handwritten digits"


def load_dataset(name: str, path: Path = DATASETS_FILE, named_by: str = "params.yaml: prepare.dataset") -> Dataset:
    """Look up and validate one dataset definition; named_by says where the name came from, for the message."""
    definitions = load_yaml(path)
    if name not in definitions:
        raise ParamsError(f"{named_by} = {name!r}; expected one of the datasets in {path}: " + ", ".join(definitions))
    entry = definitions[name]
    where = f"{path}: {name}"
    if not isinstance(entry, dict):
        raise ParamsError(f"{where}: expected a mapping with mirrors, image_shape, classes and files")
    mirrors = entry.get("mirrors")
    if not isinstance(mirrors, list) or not all(isinstance(m, str) and m.endswith("/") for m in mirrors):
        raise ParamsError(f"{where}.mirrors = {mirrors!r}; expected a list of URLs ending in '/'")
    shape = entry.get("image_shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(s, int) and s > 0 for s in shape)):
        raise ParamsError(f"{where}.image_shape = {shape!r}; expected [height, width]")
    classes = entry.get("classes")
    if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)):
        raise ParamsError(f"{where}.classes = {classes!r}; expected a list of at least two names")
    files = entry.get("files")
    if not isinstance(files, dict) or set(files) != set(ROLES):
        found = sorted(files) if isinstance(files, dict) else files
        raise ParamsError(f"{where}.files = {found!r}; expected exactly: {', '.join(ROLES)}")
    subject = entry.get("subject", f"{name} images")
    if not (isinstance(subject, str) and subject.strip()):
        raise ParamsError(f"{where}.subject = {subject!r}; expected what the images show, such as 'handwritten digits'")
    return Dataset(
        name=name,
        mirrors=tuple(mirrors),
        image_shape=(shape[0], shape[1]),
        classes=tuple(classes),
        files={role: _raw_file(f"{where}.files.{role}", files[role]) for role in ROLES},
        subject=subject,
    )


def _raw_file(where: str, entry: object) -> RawFile:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ParamsError(f"{where} = {entry!r}; expected a mapping with name and idx_sha256")
    digest = entry.get("idx_sha256")
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise ParamsError(f"{where}.idx_sha256 = {digest!r}; expected 64 lowercase hex digits")
    return RawFile(name=entry["name"], idx_sha256=digest)


def read_raw_file(dataset: Dataset, role: str, directory: Path) -> bytes:
    """The verified IDX payload of one of the dataset's raw files, which must already be in directory."""
    raw_file = dataset.files[role]
    path = Path(directory) / raw_file.name
    if not path.exists():
        unreachable = remote.unreachable_remote()
        pull = f"; `dvc pull` cannot get it: {unreachable}" if unreachable else " or `dvc pull` (from the DVC remote)"
        raise DataError(
            f"{path}: not found; run `python -m mnist_dvc.apps.fetch {dataset.name}` (it downloads the dataset, "
            f"or checks the genuine files you put in {directory}/){pull}"
        )
    return read_verified(path, raw_file)


def read_verified(path: Path, raw_file: RawFile, source: str | None = None) -> bytes:
    """Decompress a raw .gz file and return its IDX payload if it has the pinned checksum.

    source names the file in messages when path is only a temporary name.
    """
    data = Path(path).read_bytes()
    path = source or path
    if not data:
        raise DataError(f"{path}: file is empty (0 bytes)")
    if not data.startswith(GZIP_MAGIC):
        raise DataError(f"{path}: not a gzip file (starts with 0x{data[:4].hex()})")
    try:
        payload = gzip.decompress(data)
    except EOFError:
        raise DataError(f"{path}: gzip data is truncated ({len(data)} bytes); the file is incomplete") from None
    except (gzip.BadGzipFile, zlib.error) as error:  # a failed CRC or length check, or a broken stream
        raise DataError(f"{path}: gzip data is corrupt ({error}); the file is damaged") from None
    digest = hashlib.sha256(payload).hexdigest()
    if digest != raw_file.idx_sha256:
        raise DataError(f"{path}: checksum mismatch: IDX SHA-256 is {digest}, expected {raw_file.idx_sha256}")
    return payload


def check_raw_data(selected: Dataset, root: Path, path: Path = DATASETS_FILE) -> int:
    """Check every file under root (data/raw/) and return how many there are: each folder must be a dataset of
    datasets.yaml and each file in it one of that dataset's, genuine; the selected dataset must have all four.

    DVC records root as a whole, so a file that is not genuine, or not a dataset's at all, must stop the run.
    """
    definitions = load_yaml(path)
    checked = 0
    for entry in sorted(Path(root).iterdir()) if Path(root).is_dir() else []:
        if not entry.is_dir() or entry.name not in definitions:
            raise DataError(f"{entry}: not the folder of a dataset of {path}; remove it from {root}/")
        dataset = selected if entry.name == selected.name else load_dataset(entry.name, path, named_by=str(entry))
        names = {raw_file.name: raw_file for raw_file in dataset.files.values()}
        for file in sorted(entry.iterdir()):
            if file.name not in names:
                raise DataError(
                    f"{file}: not a file of dataset {dataset.name} ({', '.join(names)}); remove it from {entry}/"
                )
            try:
                read_verified(file, names[file.name])
            except DataError as error:
                raise DataError(
                    f"{error}; `dvc checkout --force {file}` puts back the copy DVC recorded, if any, or delete it "
                    f"and run python -m mnist_dvc.apps.fetch {dataset.name}"
                ) from None
            checked += 1
    directory = Path(root) / selected.name
    missing = [role for role in ROLES if not (directory / selected.files[role].name).exists()]
    if missing:
        read_raw_file(selected, missing[0], directory)  # not found: the message says how to get it
    return checked
