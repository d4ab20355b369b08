"""The driver's repository: the raw data that the workers pull must be recorded in HEAD's dvc.lock."""

import subprocess

import pytest

from mnist_dvc.apps.sweep import repository
from mnist_dvc.apps.sweep.plan import SweepError

CHECKED = "stages:\n  check:\n    outs:\n    - path: data/raw\n      md5: 0123.dir\n"


def commit(root, lock: str | None) -> None:
    if lock is not None:
        (root / "dvc.lock").write_text(lock)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "c"],
        cwd=root,
        check=True,
    )


def test_raw_data_recorded_by_the_check_stage_is_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    commit(tmp_path, CHECKED)
    repository.check_data_recorded("data/raw/mnist")


@pytest.mark.parametrize("lock", [None, "stages: {}\n", CHECKED.replace("data/raw", "data/other")])
def test_raw_data_not_recorded_is_one_line_with_the_fix(tmp_path, monkeypatch, lock):
    monkeypatch.chdir(tmp_path)
    commit(tmp_path, lock)
    with pytest.raises(SweepError) as raised:
        repository.check_data_recorded("data/raw/mnist")
    assert str(raised.value) == (
        "data/raw/mnist: not recorded in HEAD's dvc.lock, so the workers cannot pull it; "
        "run `dvc repro check`, commit dvc.lock, then `dvc push`"
    )
