"""The summary that ends `./tasks.sh repro`: a few lines, the score first, narrow enough for any terminal."""

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT, project_env, run
from tests.visualize_fixtures import fake_run, visualize_project


@pytest.mark.e2e
def test_summary_gives_the_score_the_changes_and_where_to_look(tmp_path):
    root = visualize_project(tmp_path / "project", fake_run())
    run(["dvc", "repro", "--single-item", "visualize"], root)
    env = {**project_env(), "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-m", "tools.summary"], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Test accuracy 0.8000, test loss 0.7000 (metrics/test.json)"
    assert lines[1] == "Changed since the last commit:" and any("test.accuracy" in line for line in lines)
    assert lines[-2:] == ["Figures: 8 PNGs in plots/", "Report: dvc plots show, then open dvc_plots/index.html"]
    assert max(len(line) for line in lines) <= 120
