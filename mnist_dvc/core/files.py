"""Reading and writing the pipeline's artifacts, always atomically and never with pickle.

Every output goes to a temporary name beside its target and is renamed into
place only once complete, so an interrupted run leaves either the previous
good file or nothing, never a half-written file that looks valid. Inside
all_or_nothing(), a stage's outputs are renamed into place together, once all
of them are written: a failure at any write leaves every one as it was. A Ctrl-C or
SIGTERM that came meanwhile counts as a failure, even where its exception was lost.
"""

import json
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np

from mnist_dvc.core.errors import DataError
from mnist_dvc.core.signals import raise_if_stopped

# A fixed timestamp for the members of .npz files, so that the same arrays
# always give the same bytes and DVC does not rerun downstream stages for nothing.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by the owner only; outputs get the usual mode.
_FILE_MODE = 0o666 & ~_current_umask()
_DIR_MODE = 0o777 & ~_current_umask()


# The outputs of the all_or_nothing() block in progress, if any: (complete temporary copy, target) pairs.
_pending: ContextVar[list[tuple[Path, Path]] | None] = ContextVar("pending_outputs", default=None)
# What must be done before the first output is put in place: each called once, then forgotten.
_before_first_replace: list[Callable[[], None]] = []


def before_first_replace(wait: Callable[[], None]) -> None:
    """Have wait called before any output is renamed into place: a stage's last good outputs, put back while it
    starts (mnist_dvc/core/stage.py), must be in place before its new ones replace them."""
    _before_first_replace.append(wait)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside target; rename it onto target if the block succeeds (inside
    all_or_nothing(), once the whole of that block has)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}")
    os.close(fd)
    temp = Path(temp)
    temp.chmod(_FILE_MODE)
    try:
        yield temp
        raise_if_stopped()
    except BaseException as error:
        temp.unlink(missing_ok=True)
        _name_target(error, target)
        raise
    _put_in_place(temp, target)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside target; swap it in for target on success (inside
    all_or_nothing(), once the whole of that block has succeeded)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    temp.chmod(_DIR_MODE)
    try:
        yield temp
        raise_if_stopped()
    except BaseException as error:
        _remove(temp)
        _name_target(error, target)
        raise
    _put_in_place(temp, target)


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Write a stage's outputs together: each atomic write inside the block waits, complete, under its temporary
    name, and only when the block succeeds are all of them renamed into place. A failure at any write, or
    while renaming (each target set aside first, and put back), leaves every output as it was."""
    if _pending.get() is not None:  # inside another such block, which puts everything in place
        yield
        return
    pending: list[tuple[Path, Path]] = []
    token = _pending.set(pending)
    try:
        yield
        raise_if_stopped()
    except BaseException:
        for temp, _ in pending:
            _remove(temp)
        raise
    finally:
        _pending.reset(token)
    _replace_together(pending)


def _name_target(error: BaseException, target: Path) -> None:
    """An error of the disk (full, say) raised by a library that names no file gets the output's name."""
    if isinstance(error, OSError) and error.errno is not None and not error.filename:
        error.filename = str(target)


def _put_in_place(temp: Path, target: Path) -> None:
    pending = _pending.get()
    if pending is not None:
        pending.append((temp, target))
    else:
        _replace_together([(temp, target)])


def _replace_together(pairs: list[tuple[Path, Path]]) -> None:
    """Rename each temp onto its target, in order; if any rename fails, undo the ones done."""
    done: list[tuple[Path, Path, Path | None]] = []
    try:
        while _before_first_replace:
            _before_first_replace.pop(0)()
        for temp, target in pairs:
            aside = None
            if target.exists() or target.is_symlink():
                aside = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp.old")
                os.replace(target, aside)
            done.append((temp, target, aside))
            os.replace(temp, target)
    except BaseException:
        for temp, target, aside in reversed(done):
            if not temp.exists():  # it was renamed onto target
                _remove(target)
            if aside is not None:
                os.replace(aside, target)
        for temp, _ in pairs:
            _remove(temp)
        raise
    for _, _, aside in done:
        if aside is not None:
            _remove(aside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not found; run the stage that writes it first (dvc repro)") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None


def write_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as an uncompressed .npz whose bytes depend only on the arrays."""
    with atomic_path(path) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def read_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read the named arrays from an .npz written by write_arrays."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise DataError(f"{path}: has no array {missing[0]!r}; found {', '.join(archive.files)}")
            return {name: archive[name] for name in names}
    except FileNotFoundError:
        raise DataError(f"{path}: not found; run the stage that writes it first (dvc repro)") from None
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
