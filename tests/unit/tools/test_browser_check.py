"""The browser check (tools.browser_check): its errors, what a check does where its tool is missing, and the width
of a page of figures. The pages of a run are tested end to end in tests/e2e/test_report.py."""

import base64
import io
import subprocess
import sys
from pathlib import Path

import pytest
from dvc_render import ImageRenderer
from dvc_render.html import render_html
from PIL import Image

from tests.helpers.browser import skip_or_fail_in_ci
from tests.helpers.project import PROJECT_ROOT
from tools import browser_check, plots_page

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


# A browser that starts, says so in its log, and never answers: it reads the first command, then exits at the next.
SILENT_BROWSER = """#!/bin/bash
echo "starting up" >&2
read -r -d '' first <&3
read -r -d '' close <&3
"""


def test_a_browser_that_never_answers_is_an_error_that_quotes_its_log(tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text(SILENT_BROWSER)
    browser.chmod(0o755)
    (tmp_path / "profile").mkdir()
    with (
        pytest.raises(browser_check.BrowserCheckError) as raised,
        browser_check._DevTools(str(browser), tmp_path / "profile", startup_timeout=3),
    ):
        pass
    assert str(raised.value) == "Chromium did not answer in time; its log ends: starting up"


def figure_page(tmp_path, revisions_per_figure: list[list[str]], template: Path | None) -> Path:
    """A page as `dvc plots show` or `diff` writes it: 1200 px wide figures, each with a copy per revision."""
    png = io.BytesIO()
    Image.new("RGB", (1200, 300), "white").save(png, format="PNG")
    src = "data:image;base64," + base64.b64encode(png.getvalue()).decode()
    figures = [
        ImageRenderer([{"rev": rev, "src": src} for rev in revisions], f"plots/figure{k}.png")
        for k, revisions in enumerate(revisions_per_figure)
    ]
    return Path(render_html(figures, tmp_path / "index.html", template))


def test_the_project_page_shows_one_two_or_three_revisions_figures_without_sideways_scrolling(tmp_path):
    if browser_check.find_chromium() is None:
        skip_or_fail_in_ci("browser check", "Chromium is not installed (Debian: apt-get install -y chromium)")
    revisions = [["workspace"], ["HEAD", "workspace"], ["main", "HEAD", "workspace"]]
    page = figure_page(tmp_path, revisions, PROJECT_ROOT / plots_page.TEMPLATE)
    assert browser_check.check_page(page)["images"] == 1 + 2 + 3


def test_the_check_fails_a_page_that_scrolls_sideways(tmp_path):
    if browser_check.find_chromium() is None:
        skip_or_fail_in_ci("browser check", "Chromium is not installed (Debian: apt-get install -y chromium)")
    page = figure_page(tmp_path, [["HEAD", "workspace"]], None)  # DVC's own page: the copies in one row
    with pytest.raises(browser_check.BrowserCheckError, match=r"the page is drawn 2\d{3} px wide, wider than"):
        browser_check.check_page(page)
