"""The browser check (tools.browser_check): its errors, and what a check does where its tool is missing.
The pages it checks are tested end to end in tests/e2e/test_report.py."""

import subprocess
import sys

import pytest

from tests.helpers.browser import skip_or_fail_in_ci
from tests.helpers.project import PROJECT_ROOT
from tools import browser_check

SCREENSHOT = PROJECT_ROOT / browser_check.DEFAULT_SCREENSHOT


def test_a_missing_tool_fails_the_test_in_ci_and_skips_it_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="^a check cannot run in CI: no tool$"):
        skip_or_fail_in_ci("a check", "no tool")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="^a check skipped: no tool$"):
        skip_or_fail_in_ci("a check", "no tool")


def test_a_missing_page_is_a_one_line_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.browser_check", str(tmp_path / "index.html")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr == f"browser_check: error: {tmp_path / 'index.html'}: not found; run dvc plots show first\n"
