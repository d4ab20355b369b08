"""The browser check (tools.browser_check) and the page it checks: `dvc plots show`, with the committed template,
draws each plot once, `dvc plots diff` overlays revisions, and the page renders offline in headless Chromium.

Where Chromium is missing the Chromium tests skip, saying why; in CI (CI=true) they fail instead, so that CI
never passes without having looked at the page.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from typing import NoReturn

import pytest
import yaml
from dvc_render.html import PAGE_HTML

from stages.results import METRICS, TRAINING_SPLITS, curve_file
from stages.visualize import FIGURES
from tests.conftest import PROJECT_ROOT, run
from tests.visualize_fixtures import fake_run, visualize_project
from tools import browser_check, plots_page

SCREENSHOT = PROJECT_ROOT / browser_check.DEFAULT_SCREENSHOT


def skip_or_fail_in_ci(check: str, missing: str) -> NoReturn:
    """Skip a check whose tool is missing, saying why; in CI (CI=true) fail instead: CI must run every check."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{check} cannot run in CI: {missing}", pytrace=False)
    pytest.skip(f"{check} skipped: {missing}")


def require_chromium() -> None:
    if browser_check.find_chromium() is None:
        skip_or_fail_in_ci("browser check", "Chromium is not installed (Debian: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def plotted(tmp_path_factory):
    """A committed project, with the committed template as a clone has it, made-up inputs and their figures."""
    root = visualize_project(tmp_path_factory.mktemp("plots") / "project", fake_run())
    shutil.copy2(PROJECT_ROOT / plots_page.TEMPLATE, root / plots_page.TEMPLATE)
    run([sys.executable, "-m", "stages.visualize"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "a run"], root)
    return root


def listed_plots(root) -> dict[str, list[str]]:
    """What `dvc plots show` lists: each plot's name and the kind of each of its renderings."""
    shown = json.loads(run(["dvc", "plots", "show", "--json"], root).stdout)["data"]
    return {name: [plot["type"] for plot in plots] for name, plots in shown.items()}


def vega_count(root) -> int:
    return sum(kinds.count("vega") for kinds in listed_plots(root).values())


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


@pytest.mark.e2e
def test_plots_show_draws_each_plot_that_dvc_yaml_defines_and_each_figure_once(plotted, tmp_path):
    defined = [next(iter(plot)) for plot in yaml.safe_load((plotted / "dvc.yaml").read_text())["plots"]]
    curves = [str(curve_file(split, metric)) for split in TRAINING_SPLITS for metric in METRICS]
    assert listed_plots(plotted) == {
        **{name: ["vega"] for name in [*defined, *curves, "metrics/per_class.json"]},
        **{f"plots/{name}.png": ["image"] for name in FIGURES},
    }
    run(["dvc", "plots", "show", "-o", str(tmp_path / "out")], plotted)
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    drawn = {name: page.count(f'<img src="static/workspace_plots_{name}.png"') for name in FIGURES}
    assert drawn == dict.fromkeys(FIGURES, 1), "each figure once on the page"


@pytest.mark.e2e
def test_plots_diff_overlays_the_training_curves_of_two_revisions(plotted):
    try:
        for split in TRAINING_SPLITS:
            path = plotted / curve_file(split, "loss")
            steps = len(path.read_text().splitlines()) - 1
            path.write_text("step\tloss\n" + "".join(f"{step}\t{0.5 / (step + 1)}\n" for step in range(steps)))
        diff = json.loads(run(["dvc", "plots", "diff", "HEAD", "--json"], plotted).stdout)["data"]
    finally:
        run(["git", "checkout", "--", "metrics"], plotted)
    for split in TRAINING_SPLITS:
        (loss,) = diff[str(curve_file(split, "loss"))]
        assert set(loss["revisions"]) == {"HEAD", "workspace"}
        assert {point["rev"] for point in loss["content"]["data"]["values"]} == {"HEAD", "workspace"}


@pytest.mark.e2e
def test_the_page_from_the_committed_template_renders_every_plot_offline_in_chromium(plotted, tmp_path):
    require_chromium()
    run(["dvc", "plots", "show", "-o", str(tmp_path / "out")], plotted)
    counts = browser_check.check_page(tmp_path / "out" / "index.html", SCREENSHOT)
    assert counts["vega"] == vega_count(plotted)
    assert counts["images"] >= len(FIGURES)
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.mark.e2e
def test_the_check_fails_dvcs_default_page_which_needs_a_cdn(plotted, tmp_path):
    require_chromium()
    (tmp_path / "default.html").write_text(PAGE_HTML)
    run(
        ["dvc", "plots", "show", "--html-template", str(tmp_path / "default.html"), "-o", str(tmp_path / "out")],
        plotted,
    )
    with pytest.raises(
        browser_check.BrowserCheckError,
        match=r"Vega plot 'Confusion_matrix__test_set_' drew nothing.*page requested https://",
    ):
        browser_check.check_page(tmp_path / "out" / "index.html")


@pytest.mark.e2e
def test_the_command_checks_the_default_page_and_says_what_it_saw(plotted, tmp_path):
    require_chromium()
    run(["dvc", "plots", "show"], plotted)
    shot = tmp_path / "page.png"
    result = run([sys.executable, "-m", "tools.browser_check", "--screenshot", str(shot)], plotted)
    said = re.fullmatch(
        r"browser_check: dvc_plots/index.html: (\d+) Vega plots drew, (\d+) images loaded, offline; screenshot: (.+)\n",
        result.stdout,
    )
    assert said, result.stdout
    assert (int(said[1]), said[3]) == (vega_count(plotted), str(shot)) and int(said[2]) >= len(FIGURES)
    assert shot.stat().st_size > 10_000
