"""The advice for a missing output: `dvc pull` only where the default remote can be reached, else why not."""

import pytest

from mnist_dvc.core import remote


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A DVC project whose default remote is the folder ../storage, as the project's own config has it."""
    root = tmp_path / "clone"
    (root / ".dvc").mkdir(parents=True)
    (root / ".dvc/config").write_text("[core]\n    remote = storage\n['remote \"storage\"']\n    url = ../../storage\n")
    monkeypatch.chdir(root)
    return root


def test_a_folder_remote_that_does_not_exist_is_named_with_what_to_run_instead(project):
    assert remote.how_to_get() == (
        "run the pipeline first (./tasks.sh repro); dvc pull cannot get it: "
        "the DVC remote 'storage' is the folder ../storage, which does not exist here"
    )


def test_a_folder_remote_that_exists_is_advised(project):
    (project.parent / "storage").mkdir()
    assert remote.unreachable_remote() is None
    assert remote.how_to_get() == "run the pipeline first (./tasks.sh repro), or get it from the DVC remote (dvc pull)"


def test_a_remote_elsewhere_is_not_contacted_and_advised(project):
    (project / ".dvc/config.local").write_text("['remote \"storage\"']\n    url = s3://bucket/mnist\n")
    assert remote.unreachable_remote() is None


def test_without_a_default_remote_dvc_pull_is_not_advised(project):
    (project / ".dvc/config").write_text("")
    assert remote.unreachable_remote() == "no default DVC remote is set (dvc remote list)"
