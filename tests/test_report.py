"""The report: `dvc plots show` lists every plot, `dvc plots diff` overlays revisions, and the page it writes
renders offline in headless Chromium (skipped, saying why, where Chromium or the built template is missing)."""

import configparser
import json
import shutil
import sys

import pytest
from dvc_render.html import PAGE_HTML

from stages import report
from stages.errors import PipelineError
from tests.conftest import PROJECT_ROOT, run
from tests.visualize_fixtures import FIGURE_NAMES, fake_run, visualize_project

VEGA_PLOTS = ("Loss per epoch", "Accuracy per epoch", "Confusion matrix (test set)")
SCREENSHOT = PROJECT_ROOT / ".artifacts" / "report.png"


@pytest.fixture(scope="module")
def plotted(tmp_path_factory):
    """A committed project with made-up inputs and the figures the visualize stage drew from them."""
    root = visualize_project(tmp_path_factory.mktemp("report") / "project", fake_run())
    run([sys.executable, "-m", "stages.visualize"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "a run"], root)
    return root


def fake_node_modules(root, code="var ok = 1;"):
    for package, build in report.SCRIPTS.items():
        (root / package / build).parent.mkdir(parents=True)
        (root / package / build).write_text(f"/* {package} */ {code}\n//# sourceMappingURL=x.map\n")
        (root / package / "package.json").write_text(json.dumps({"version": "1.2.3"}))
    return root


def test_page_inlines_the_scripts_in_order_and_leaves_no_cdn_tags(tmp_path):
    page = report.build_page(fake_node_modules(tmp_path), "stamp")
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page, "DVC would put its CDN script tags there"
    assert "http" not in page and "sourceMappingURL" not in page
    positions = [page.index(f"/* {package} */ var ok") for package in report.SCRIPTS]
    assert positions == sorted(positions)


@pytest.mark.parametrize("code", ["'</script>'", "'{plot_divs}'"])
def test_scripts_that_would_break_the_page_are_refused(tmp_path, code):
    with pytest.raises(report.ReportError, match="cannot be inlined"):
        report.build_page(fake_node_modules(tmp_path, code), "stamp")


def test_install_is_a_no_op_when_built_and_needs_npm_otherwise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    (tmp_path / "package-lock.json").write_text("{}")
    template = tmp_path / "page.html"
    template.write_text(report._stamp(tmp_path / "package-lock.json"))
    assert report.install(template, tmp_path / "package-lock.json") is False

    (tmp_path / "package-lock.json").write_text('{"changed": true}')
    with pytest.raises(PipelineError, match=r"^npm not found on PATH; install Node.js and npm"):
        report.install(template, tmp_path / "package-lock.json")


def test_dvc_config_names_the_template_that_install_builds():
    config = configparser.ConfigParser()
    config.read(PROJECT_ROOT / ".dvc" / "config")
    assert PROJECT_ROOT / ".dvc" / config["plots"]["html_template"] == PROJECT_ROOT / report.TEMPLATE


@pytest.mark.e2e
def test_plots_show_lists_the_curves_the_confusion_matrix_and_every_figure(plotted):
    shown = json.loads(run(["dvc", "plots", "show", "--json"], plotted).stdout)["data"]
    kinds = {name: [plot["type"] for plot in plots] for name, plots in shown.items()}
    assert kinds == {
        **{name: ["vega"] for name in VEGA_PLOTS},
        **{f"plots/{name}.png": ["image"] for name in FIGURE_NAMES},
    }


@pytest.mark.e2e
def test_plots_diff_overlays_the_training_curves_of_two_revisions(plotted):
    curves = plotted / "metrics/train/plots/metrics"
    try:
        for split in ("train", "val"):
            path = curves / split / "loss.tsv"
            steps = len(path.read_text().splitlines()) - 1
            path.write_text("step\tloss\n" + "".join(f"{step}\t{0.5 / (step + 1)}\n" for step in range(steps)))
        diff = json.loads(run(["dvc", "plots", "diff", "HEAD", "--json"], plotted).stdout)["data"]
    finally:
        run(["git", "checkout", "--", "metrics"], plotted)
    (loss,) = diff["Loss per epoch"]
    assert set(loss["revisions"]) == {"HEAD", "workspace"}
    lines = {(point["rev"], point["filename"]) for point in loss["content"]["data"]["values"]}
    assert lines == {(rev, f"{split}/loss.tsv") for rev in ("HEAD", "workspace") for split in ("train", "val")}


needs_chromium = pytest.mark.skipif(
    report.find_chromium() is None,
    reason="browser check skipped: Chromium is not installed (Debian: apt-get install -y chromium)",
)
needs_template = pytest.mark.skipif(
    not (PROJECT_ROOT / report.TEMPLATE).is_file(),
    reason=f"browser check skipped: {report.TEMPLATE} is not built (python -m stages.report install)",
)


@pytest.mark.e2e
@needs_chromium
@needs_template
def test_page_renders_every_plot_offline_in_chromium(plotted):
    shutil.copy2(PROJECT_ROOT / report.TEMPLATE, plotted / report.TEMPLATE)
    run(["dvc", "plots", "show"], plotted)
    counts = report.check_page(plotted / "dvc_plots/index.html", SCREENSHOT)
    assert counts == {"vega": len(VEGA_PLOTS), "images": len(FIGURE_NAMES)}
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.mark.e2e
@needs_chromium
def test_the_check_fails_dvcs_default_page_which_needs_a_cdn(plotted, tmp_path):
    (tmp_path / "default.html").write_text(PAGE_HTML)
    run(
        ["dvc", "plots", "show", "--html-template", str(tmp_path / "default.html"), "-o", str(tmp_path / "out")],
        plotted,
    )
    with pytest.raises(report.ReportError, match=r"Vega plot 'Loss_per_epoch' drew nothing.*page requested https://"):
        report.check_page(tmp_path / "out" / "index.html")
