"""The report end to end: visualize run by DVC, `dvc plots show` with the committed template drawing each plot
once, `dvc plots diff` overlaying revisions, the page rendering offline in headless Chromium, and the summary
that ends `./tasks.sh repro`.

Where Chromium is missing the Chromium tests skip, saying why; in CI (CI=true) they fail instead, so that CI
never passes without having looked at the page.
"""

import json
import re
import shutil
import subprocess
import sys

import pytest
from dvc_render.html import PAGE_HTML

from mnist_dvc.core.results import METRICS, curve_file
from stages.visualize import FIGURES
from tests.helpers.browser import skip_or_fail_in_ci
from tests.helpers.figures import fake_run, predictions_csv, visualize_project
from tests.helpers.project import PROJECT_ROOT, project_env, run, set_param
from tools import browser_check, plots_page

SCREENSHOT = PROJECT_ROOT / browser_check.DEFAULT_SCREENSHOT
RUN = fake_run()


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


def test_plots_show_draws_each_plot_once_in_the_order_of_the_stages(plotted, tmp_path):
    curves = [str(curve_file(metric)) for metric in METRICS]
    listed = listed_plots(plotted)
    assert listed == {
        **{name: ["vega"] for name in [*curves, "data/predictions.csv", "metrics/per_class.json"]},
        **{f"plots/{name}.png": ["image"] for name in FIGURES},
    }
    assert list(listed)[:4] == [*curves, "data/predictions.csv", "metrics/per_class.json"], "in dvc.yaml's order"
    run(["dvc", "plots", "show", "-o", str(tmp_path / "out")], plotted)
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    drawn = {name: page.count(f'<img src="static/workspace_plots_{name}.png"') for name in FIGURES}
    assert drawn == dict.fromkeys(FIGURES, 1), "each figure once on the page"


def test_plots_diff_overlays_the_training_curves_of_two_revisions(plotted):
    path = plotted / curve_file("loss")
    try:
        epochs = len(path.read_text().splitlines()) - 1
        path.write_text("epoch\ttrain\tval\n" + "".join(f"{e}\t{0.5 / e}\t{0.6 / e}\n" for e in range(1, epochs + 1)))
        diff = json.loads(run(["dvc", "plots", "diff", "HEAD", "--json"], plotted).stdout)["data"]
    finally:
        run(["git", "checkout", "--", "metrics"], plotted)
    (loss,) = diff[str(curve_file("loss"))]
    assert set(loss["revisions"]) == {"HEAD", "workspace"}
    values = loss["content"]["data"]["values"]
    assert {point["rev"] for point in values} == {"HEAD", "workspace"}
    assert {"train", "val"} <= set(values[0]), "both splits, drawn on one chart by .dvc/plots/curves.json"


def test_the_page_from_the_committed_template_renders_every_plot_offline_in_chromium(plotted, tmp_path):
    require_chromium()
    run(["dvc", "plots", "show", "-o", str(tmp_path / "out")], plotted)
    counts = browser_check.check_page(tmp_path / "out" / "index.html", SCREENSHOT)
    assert counts["vega"] == vega_count(plotted)
    assert counts["images"] >= len(FIGURES)
    assert SCREENSHOT.stat().st_size > 10_000


def test_the_check_fails_dvcs_default_page_which_needs_a_cdn(plotted, tmp_path):
    require_chromium()
    (tmp_path / "default.html").write_text(PAGE_HTML)
    run(
        ["dvc", "plots", "show", "--html-template", str(tmp_path / "default.html"), "-o", str(tmp_path / "out")],
        plotted,
    )
    with pytest.raises(
        browser_check.BrowserCheckError,
        match=r"Vega plot 'data_predictions_csv' drew nothing.*page requested https://",
    ):
        browser_check.check_page(tmp_path / "out" / "index.html")


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


def test_plots_show_in_a_clone_writes_a_self_contained_page_from_the_committed_template(tmp_path):
    root = visualize_project(tmp_path / "project", fake_run())
    shutil.copy2(PROJECT_ROOT / plots_page.TEMPLATE, root / plots_page.TEMPLATE)
    run(["dvc", "plots", "show"], root)
    page = (root / "dvc_plots" / "index.html").read_text(encoding="utf-8")
    assert plots_page.stamp(PROJECT_ROOT / plots_page.LOCKFILE) in page
    assert "vegaEmbed('#data_predictions_csv'" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)


def test_dvc_reruns_it_only_when_its_deps_or_params_change(tmp_path):
    root = visualize_project(tmp_path / "project", RUN)
    output = run(["dvc", "repro", "--single-item", "visualize"], root).stdout
    assert "Running stage 'visualize'" in output
    assert sorted(path.stem for path in (root / "plots").iterdir()) == sorted(FIGURES)

    def changes() -> str:
        """What `dvc status` says changed for visualize, as JSON text ('{}' when up to date)."""
        return json.dumps(json.loads(run(["dvc", "status", "visualize", "--json"], root).stdout))

    # Upstream params and code that visualize does not read.
    set_param(root, "train.epochs", 3)
    set_param(root, "prepare.val_fraction", 0.3)
    with open(root / "stages/train.py", "a") as file:
        file.write("# a comment\n")
    assert changes() == "{}"

    set_param(root, "visualize.dpi", 72)
    assert changes() == json.dumps({"visualize": [{"changed deps": {"params.yaml": {"visualize": "modified"}}}]})
    set_param(root, "visualize.dpi", 100)

    (root / "data/predictions.csv").write_text(predictions_csv(RUN).replace("0.", "0.0", 1))
    with open(root / "mnist_dvc/report/figures.py", "a") as file:
        file.write("# a comment\n")
    changed = changes()
    assert "data/predictions.csv" in changed and "mnist_dvc/report" in changed and "params" not in changed


def test_summary_gives_the_score_the_changes_and_where_to_look(tmp_path):
    root = visualize_project(tmp_path / "project", fake_run())
    run(["dvc", "repro", "--single-item", "visualize"], root)
    env = {**project_env(), "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-m", "tools.summary"], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Test accuracy 0.8000, test loss 0.7000 (metrics/test.json)"
    assert lines[1].startswith("Changed since the last commit (values in full")
    assert any(line.startswith("  metrics/test.json: test.accuracy: ") for line in lines)
    assert lines[-2:] == ["Figures: 8 PNGs in plots/", "Report: dvc plots show, then open dvc_plots/index.html"]
    assert max(len(line) for line in lines) <= 120
