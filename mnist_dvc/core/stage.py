"""The runner of every DVC stage: its last good outputs put back first, so that a failed run loses nothing.

DVC deletes a stage's outputs before it runs the stage's command. Each stage, run by DVC, therefore starts by
checking out from DVC's cache the outputs that dvc.lock records for it, in a process of its own beside the stage's
own start (its imports, its inputs read), unless there is nothing to put back (check's raw data, which DVC never
deletes; the model card, of which it keeps no copy); its atomic writes replace them only once the run has succeeded,
and not before that process is done. A run that fails on bad params or data, is interrupted or is killed leaves the
last good outputs in place, still described by dvc.lock. An output that a stage writes in place as it goes (train's
live log) is put back the same way when the stage fails. No output needs DVC's `persist`, which would turn the
run-cache off.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mnist_dvc.core.cli import run_command
from mnist_dvc.core.files import before_first_replace

# Set by DVC for every stage command it runs: the stage's name.
DVC_STAGE_ENV = "DVC_STAGE"
# A file that the benchmarks name: stages append what they measured to it, one JSON object per line.
TIMINGS_ENV = "MNIST_TIMINGS"
# The process that puts back the stage's last good outputs, started by run_stage, if it has not been waited for.
_restoring: subprocess.Popen | None = None


def run_stage(name: str, main: Callable[[], None], *, restores: bool = True) -> None:
    """Put back the stage's last good outputs, then run its main as a command: one-line errors, prompt exit.
    Its duration is recorded for the benchmarks (record_timing), which tell the pipeline's stages apart with it.

    restores=False for a stage whose outputs DVC never deletes (persist) or keeps no copy of (neither in its cache
    nor in its run-cache): there is nothing to put back, and the process that would look costs a third of a second
    (tests/unit/test_dvc_yaml.py holds each stage to dvc.yaml)."""

    def restored_then_main() -> None:
        started = time.perf_counter()
        if restores:
            start_restoring()
        try:
            main()
        finally:
            wait_for_restore()
        record_timing(name, "stage", time.perf_counter() - started)

    run_command(name, restored_then_main, after_stop="; earlier outputs are intact")


def start_restoring() -> None:
    """Start restore_outputs() in a process of its own, which the stage's start (Python importing TensorFlow, say,
    on one core) leaves a core for: the first output put in place waits for it (files.before_first_replace).
    It runs in a session of its own, so that it finishes even when a Ctrl-C or a kill stops the stage."""
    global _restoring
    if os.environ.get(DVC_STAGE_ENV):
        code = "from mnist_dvc.core.stage import restore_outputs; restore_outputs()"
        _restoring = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        before_first_replace(wait_for_restore)


def wait_for_restore() -> None:
    """Wait for the process that start_restoring() started, if any; where it failed, restore here, which raises
    the error it met."""
    global _restoring
    restoring, _restoring = _restoring, None
    if restoring is not None and restoring.wait() != 0:
        restore_outputs()


def restore_outputs() -> list[str]:
    """Check out the missing outputs of the stage DVC is running, as dvc.lock records them; return their paths.

    Outputs kept in git rather than in DVC's cache (metrics, plots) are there too: the run-cache keeps a copy
    of every one. An output whose copy is not in the cache (a fresh clone that never ran or pulled it) is
    left missing, as DVC left it. Outside DVC nothing was deleted, and nothing is done.
    """
    stage_name = os.environ.get(DVC_STAGE_ENV)
    if not stage_name:
        return []
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    restored = []
    with Repo() as repo:
        # Copies, never links into the cache: a stage rewrites its outputs, and the metrics and plots are in git.
        repo.cache.local.cache_types = repo.cache.legacy.cache_types = ["copy"]
        for stage in repo.stage.collect(stage_name):
            for out in stage.outs:
                if out.exists or not out.hash_info:
                    continue
                out.use_cache = True
                if out.get_obj() is None:
                    continue
                try:
                    out.checkout(allow_missing=True)
                except (DvcException, OSError):
                    continue
                restored.append(str(out))
    return restored


def put_back(path: Path) -> None:
    """Replace what a failed run wrote in place at path (a folder) by the last good output, from DVC's cache.

    Outside DVC there is no record of a last good output, and path is left as it is. Where even that fails (a
    full disk), path stays as the run left it, or missing: dvc.lock does not describe it, so dvc status shows
    the stage as changed, and the error that stopped the run is still the one reported.
    """
    if os.environ.get(DVC_STAGE_ENV):
        from dvc.exceptions import DvcException

        wait_for_restore()
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(DvcException, OSError):
            restore_outputs()


def record_timing(stage: str, name: str, seconds: float) -> None:
    """Append a measured duration for the benchmarks, if they asked for one; timings never go into outputs,
    which must not change from run to run."""
    path = os.environ.get(TIMINGS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps({"stage": stage, "name": name, "seconds": seconds}) + "\n")
