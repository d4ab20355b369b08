"""requirements.lock: every package pinned and hashed, and in step with requirements.txt."""

import re
from typing import NamedTuple

import pytest

from tests.helpers.project import PROJECT_ROOT

LOCK = PROJECT_ROOT / "requirements.lock"
REQUIREMENTS = PROJECT_ROOT / "requirements.txt"
# name==version, an optional environment marker, then the hashes and nothing else.
ENTRY = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)\s*(?:;.*?)?(?P<hashes>(?:\s*--hash=\S+)*)"
)
HASH = re.compile(r"sha256:[0-9a-f]{64}")


class Entry(NamedTuple):
    line: str
    name: str | None  # None: the line is not an exact pin followed by its hashes
    version: str | None
    hashes: list[str]
    via: list[str]  # uv's annotation: where the requirement comes from


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_pins():
    """requirements.txt as {name: version}; every line in it must be an exact pin."""
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"requirements.txt: {line!r} is not pinned with =="
            pins[normalize(name)] = version.strip()
    return pins


def lock_entries():
    """The lock's requirements, continuation lines joined."""
    entries = []
    for line in LOCK.read_text().replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and entries:
            entries[-1].via.append(stripped)
        elif stripped and not stripped.startswith("#"):
            match = ENTRY.fullmatch(stripped)
            if match:
                hashes = match["hashes"].replace("--hash=", " ").split()
                entries.append(Entry(stripped, normalize(match["name"]), match["version"], hashes, []))
            else:
                entries.append(Entry(stripped, None, None, [], []))
    return entries


@pytest.fixture(scope="module")
def entries():
    return lock_entries()


def test_every_line_is_an_exact_pin_with_hashes(entries):
    """With --require-hashes pip refuses anything unpinned or unhashed, so catch it here first."""
    assert len(entries) > len(direct_pins())
    for entry in entries:
        assert entry.name, f"requirements.lock: not an exact == pin with hashes: {entry.line[:80]!r}"
        assert entry.hashes, f"requirements.lock: {entry.name} has no --hash=sha256:"
        assert all(HASH.fullmatch(value) for value in entry.hashes), f"requirements.lock: {entry.name}: {entry.hashes}"


def test_every_direct_pin_is_locked_at_the_same_version(entries):
    """A pin changed in requirements.txt but not recompiled would install the old version."""
    locked = {}
    for entry in entries:
        locked.setdefault(entry.name, set()).add(entry.version)
    for name, version in direct_pins().items():
        assert locked.get(name) == {version}, (
            f"requirements.txt pins {name}=={version}, requirements.lock has {sorted(locked.get(name, []))}: "
            "recompile the lock (docs/testing.md: Updating dependencies)"
        )


def test_the_lock_was_compiled_from_the_current_requirements(entries):
    """The packages the lock records as coming from requirements.txt are exactly its pins: none added or dropped."""
    from_requirements = {entry.name for entry in entries if any("-r requirements.txt" in via for via in entry.via)}
    assert from_requirements == set(direct_pins())


def test_header_shows_the_command_that_regenerates_it():
    """Anyone can recompile the lock the same way; the header names no path of one machine."""
    text = LOCK.read_text()
    command = re.search(r"^#\s+(uv pip compile .*)$", text, re.MULTILINE)
    assert command, "requirements.lock: no `uv pip compile` command in its header"
    assert "--generate-hashes" in command[1]
    assert "requirements.txt" in command[1]
    assert "-o requirements.lock" in command[1]
    assert not re.search(r"(^|[\s=])(/|~/)", command[1]), command[1]
    docs = (PROJECT_ROOT / "docs/testing.md").read_text()
    assert command[1] in docs, "docs/testing.md: update the command that recompiles the lock"


def test_setup_installs_the_lock_with_hash_checking():
    """tasks.sh installs the lock, not the loose requirements.txt, and only the hashed files."""
    install = [line for line in (PROJECT_ROOT / "tasks.sh").read_text().splitlines() if "pip install" in line]
    assert any("--require-hashes" in line and "-r requirements.lock" in line for line in install), install
    assert not any("-r requirements.txt" in line for line in install), install
