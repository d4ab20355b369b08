"""cache: verify DVC's cache against the hashes DVC records, and repair it.

DVC names each object of its cache (.dvc/cache/files/md5/) by the MD5 of its bytes, and trusts that name once
the object is read-only: a damaged object is checked out again and again, `dvc status` stays clean, and a rerun
of the stage that wrote it leaves it as it is. `verify` reads every object and compares its bytes with its name;
`repair` drops the damaged ones and gets good copies back: from a workspace file that still has the recorded
bytes, else from the DVC remote (`dvc fetch`); a workspace file that was checked out of a damaged object is then
checked out again. What neither has is named, with the command that writes it again.
"""

import argparse
import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from mnist_dvc.core.cli import parse_args, run_command
from mnist_dvc.core.errors import DataError

_CHUNK = 1 << 20


@dataclass
class Damaged:
    """A cache object whose bytes do not match its name, and the workspace files that DVC records with it."""

    oid: str
    path: Path
    actual: str  # the MD5 of its bytes
    used_by: list[tuple[str, str]] = field(default_factory=list)  # (workspace path, the stage that writes it)


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cache_objects(cache: Path) -> dict[str, Path]:
    """Every object of the cache by its name: two hex digits of folder, thirty of file, `.dir` for a listing."""
    objects = {}
    for folder in sorted(cache.iterdir()) if cache.is_dir() else []:
        if len(folder.name) == 2 and folder.is_dir():
            for path in sorted(folder.iterdir()):
                oid = folder.name + path.name
                if path.is_file() and len(oid.removesuffix(".dir")) == 32:
                    objects[oid] = path
    return objects


def recorded_uses(repo) -> dict[str, list[tuple[str, str]]]:
    """object name -> the workspace paths that dvc.lock and .dvc files record with it, and their stages."""
    uses: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for stage in repo.index.stages:
        for out in stage.outs:
            oid = out.hash_info.value if out.hash_info else None
            if not oid:
                continue
            uses[oid].append((str(out), stage.addressing))
            listing = Path(repo.cache.local.oid_to_path(oid))
            if oid.endswith(".dir") and listing.is_file() and md5_of(listing) == oid.removesuffix(".dir"):
                for entry in json.loads(listing.read_text()):
                    uses[entry["md5"]].append((f"{out}/{entry['relpath']}", stage.addressing))
    return uses


def cache_dir(repo) -> Path:
    """DVC's cache of files (`dvc cache dir`), relative to here when it is below."""
    path = Path(repo.cache.local.path)
    return path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path


def find_damaged(repo) -> tuple[int, list[Damaged]]:
    """How many objects the cache holds, and those whose bytes do not match their name."""
    objects = cache_objects(cache_dir(repo))
    uses = recorded_uses(repo)
    damaged = []
    for oid, path in objects.items():
        actual = md5_of(path)
        if actual != oid.removesuffix(".dir"):
            damaged.append(Damaged(oid, path, actual, uses.get(oid, [])))
    return len(objects), damaged


def describe(item: Damaged) -> str:
    used = ", ".join(path for path, _ in item.used_by) or "no output of the workspace"
    return f"{item.path}: damaged: its bytes have MD5 {item.actual} (used by {used})"


def verify(repo) -> None:
    count, damaged = find_damaged(repo)
    for item in damaged:
        print(f"cache: {describe(item)}")
    if damaged:
        raise DataError(
            f"{len(damaged)} of the {count} objects in {cache_dir(repo)} are damaged; "
            "`python -m mnist_dvc.apps.cache repair` replaces them"
        )
    print(f"cache: all {count} objects in {cache_dir(repo)} match their hashes")


def repair(repo) -> None:
    count, damaged = find_damaged(repo)
    if not damaged:
        print(f"cache: all {count} objects in {cache_dir(repo)} match their hashes; nothing to repair")
        return
    # Workspace files that DVC checked out of a damaged object have its bytes: they are put right afterwards.
    copies_of_damaged = []
    for item in damaged:
        print(f"cache: {describe(item)}")
        files = [Path(path) for path, _ in item.used_by if Path(path).is_file()]
        copies_of_damaged += [path for path in files if md5_of(path) == item.actual]
        good = next((path for path in files if md5_of(path) == item.oid), None)
        os.chmod(item.path, 0o644)
        item.path.unlink()
        if good is not None:
            repo.cache.local.add(str(good), repo.cache.local.fs, item.oid)
            print(f"cache: {item.oid}: restored from {good}, which has the recorded bytes")
    missing = [item for item in damaged if not _good(item)]
    targets = sorted({path for item in missing for path, _ in item.used_by})
    if targets and repo.config["core"].get("remote"):
        from dvc.exceptions import DvcException

        try:
            repo.fetch(targets=targets)
        except DvcException as error:  # an unreachable remote leaves them missing, as they were
            print(f"cache: the remote could not give them back ({error})")
        for item in missing:
            if item.path.is_file() and not _good(item):
                item.path.unlink()  # the remote's copy is damaged too
            elif item.path.is_file():
                print(f"cache: {item.oid}: fetched from the remote")
    restored = {item.actual for item in damaged if _good(item)}
    for path in copies_of_damaged:
        if md5_of(path) in restored:
            path.unlink()
            repo.checkout(targets=[str(path)], force=True)
            print(f"cache: {path}: checked out again, with the recorded bytes")
    left = [item for item in damaged if not _good(item)]
    for item in left:
        print(f"cache: {item.oid}: no good copy in the workspace or on the remote; dropped")
    if left:
        raise DataError(f"{len(left)} damaged objects had no good copy; {_how_to_rewrite(left)}")
    print(f"cache: repaired {len(damaged)} damaged objects; all {count} now match their hashes")


def _good(item: Damaged) -> bool:
    return item.path.is_file() and md5_of(item.path) == item.oid.removesuffix(".dir")


def _how_to_rewrite(items: list[Damaged]) -> str:
    """The commands that write the outputs again, stage by stage."""
    stages = sorted({stage for item in items for _, stage in item.used_by})
    raw = [stage for stage in stages if stage == "check"]
    steps = [f"`dvc repro --force -s {stage}` writes its outputs again" for stage in stages if stage not in raw]
    if raw:
        steps.append("the raw data: delete the files named above and run python -m mnist_dvc.apps.fetch")
    return "; ".join(steps) or "they are used by no output of the workspace"


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "action",
            choices=("verify", "repair"),
            help="verify: check every object against its hash; repair: also replace the damaged ones",
        )

    args = parse_args(__doc__, with_params=False, add_arguments=add_arguments)
    from dvc.repo import Repo

    with Repo() as repo:
        (verify if args.action == "verify" else repair)(repo)


if __name__ == "__main__":
    run_command("cache", main)
