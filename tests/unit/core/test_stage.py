"""The stage runner's restore of the last good outputs, beside the stage's start: outputs wait for it."""

import pytest

from mnist_dvc.core import files, stage
from mnist_dvc.core.files import write_text


class Restoring:
    """Stands for the restoring process: records its start and its wait, and ends as told."""

    def __init__(self, events: list[str], status: int = 0):
        self.events, self.status = events, status

    def __call__(self, command: list[str], **options) -> "Restoring":
        self.events.append(f"started in a session of its own: {options.get('start_new_session')}")
        return self

    def wait(self) -> int:
        self.events.append("waited")
        return self.status


@pytest.fixture
def events(monkeypatch) -> list[str]:
    events: list[str] = []
    monkeypatch.setattr(files, "_before_first_replace", [])  # nothing left waiting for the next test's writes
    monkeypatch.setattr(stage, "_restoring", None)
    monkeypatch.setattr(stage.subprocess, "Popen", Restoring(events))
    monkeypatch.setattr(stage, "restore_outputs", lambda: events.append("restored here") or [])
    return events


def test_under_dvc_the_first_output_waits_for_the_restore_that_runs_beside_the_stage(monkeypatch, tmp_path, events):
    monkeypatch.setenv(stage.DVC_STAGE_ENV, "train")
    stage.start_restoring()
    events.append("the stage's start")
    write_text(tmp_path / "model.keras", "new")
    events.append("written")
    stage.wait_for_restore()
    assert events == ["started in a session of its own: True", "the stage's start", "waited", "written"]


def test_outside_dvc_nothing_is_restored(monkeypatch, tmp_path, events):
    monkeypatch.delenv(stage.DVC_STAGE_ENV, raising=False)
    stage.start_restoring()
    write_text(tmp_path / "model.keras", "new")
    stage.wait_for_restore()
    assert events == []


def test_a_restore_that_failed_in_its_process_runs_again_in_the_stage(monkeypatch, events):
    monkeypatch.setenv(stage.DVC_STAGE_ENV, "train")
    monkeypatch.setattr(stage.subprocess, "Popen", Restoring(events, status=1))
    stage.start_restoring()
    stage.wait_for_restore()
    stage.wait_for_restore()
    assert events == ["started in a session of its own: True", "waited", "restored here"]


def test_putting_back_a_failed_run_s_live_output_waits_for_the_restore_first(monkeypatch, tmp_path, events):
    monkeypatch.setenv(stage.DVC_STAGE_ENV, "train")
    stage.start_restoring()
    stage.put_back(tmp_path / "train")
    assert events == ["started in a session of its own: True", "waited", "restored here"]
