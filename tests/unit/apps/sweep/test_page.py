"""The sweep's page: the axes of its parallel coordinates, its charts, the best trial and every trial, Vega
inlined from the plots page template; and in headless Chromium, offline, every chart draws."""

import json
import re

import pytest

from mnist_dvc.apps.sweep.page import (
    PageTrial,
    axis,
    build_page,
    fit_time_spec,
    inlined_scripts,
    parallel_spec,
    varied_params,
)
from mnist_dvc.core import paths
from tests.helpers.browser import skip_or_fail_in_ci
from tests.helpers.project import PROJECT_ROOT
from tools import browser_check


def trial(name, rate, filters, accuracy, fit=10.0, status="finished", error=None):
    params = {"seed": 42, "train.learning_rate": rate, "train.model.filters": filters, "train.epochs": 3}
    overrides = (f"train.learning_rate={rate}", f"train.model.filters={filters}".replace(" ", ""))
    metrics = {"test.accuracy": accuracy, "val.accuracy": accuracy - 0.01} if status == "finished" else {}
    return PageTrial(name, overrides, status, params if metrics else {}, metrics, fit, error)


TRIALS = [
    trial("s-1", 0.001, [16, 32], 0.97, fit=40.0),
    trial("s-2", 0.01, [32, 64], 0.99, fit=80.0),
    trial("s-3", 0.0001, [16, 32], 0.95, fit=None),
    trial("s-4", 0.1, [16, 32], 0.0, fit=None, status="failed", error="train: error: <bad> & worse"),
]


def test_the_varied_params_are_those_that_differ_between_finished_trials():
    assert varied_params(TRIALS) == ["train.learning_rate", "train.model.filters"]


def test_numbers_spanning_decades_sit_on_a_log_axis_and_others_are_spaced_evenly():
    positions, ticks = axis([0.001, 0.01, 0.1])
    assert positions == pytest.approx([0.0, 0.5, 1.0])
    assert ticks == [(0.0, "0.001"), (0.5, "0.01"), (1.0, "0.1")]
    positions, _ = axis([64, 128, 256])
    assert positions == pytest.approx([0.0, 1 / 3, 1.0])
    positions, ticks = axis([[32, 64], [16, 32], [32, 64]])
    assert positions == [1.0, 0.0, 1.0] and ticks == [(0.0, "[16, 32]"), (1.0, "[32, 64]")]
    assert axis(["relu"]) == ([0.5], [(0.5, "relu")])


def test_the_parallel_coordinates_have_an_axis_per_varied_param_and_one_for_test_accuracy():
    spec = parallel_spec(TRIALS, varied_params(TRIALS))
    lines = spec["datasets"]["lines"]
    assert [row["axis"] for row in lines if row["trial"] == "s-2"] == [
        "train.learning_rate",
        "train.model.filters",
        "test.accuracy",
    ]
    assert {row["trial"] for row in lines} == {"s-1", "s-2", "s-3"}, "failed trials have no line"
    assert {row["position"] for row in lines if row["axis"] == "test.accuracy"} == {0.0, 0.5, 1.0}


def test_the_fit_time_chart_has_the_trials_that_trained():
    points = fit_time_spec(TRIALS)["data"]["values"]
    assert [(point["trial"], point["fit"]) for point in points] == [("s-1", 40.0), ("s-2", 80.0)]


def test_the_page_has_the_best_trials_command_every_trial_and_its_charts():
    page = build_page("s", TRIALS, "s-2", "val.accuracy", "<script>/* scripts */</script>")
    assert "<script>/* scripts */</script>" in page
    assert "<code>dvc exp apply s-2</code>" in page
    assert "<code>dvc exp run -S train.learning_rate=0.01 -S &#x27;train.model.filters=[32,64]&#x27;</code>" in page
    assert re.findall(r"vegaEmbed\('#([^']+)'", page) == ["parallel", "fit-time"]
    assert "failed: train: error: &lt;bad&gt; &amp; worse" in page
    assert page.index("<td>s-2</td>") < page.index("<td>s-1</td>") < page.index("<td>s-3</td>") < page.index("s-4")
    embedded = re.search(r"vegaEmbed\('#parallel', (.*), \{actions: false\}\);", page).group(1)
    assert json.loads(embedded)["datasets"]["lines"]


def test_a_page_without_finished_trials_has_no_charts():
    page = build_page("s", TRIALS[3:], None, "val.accuracy", "")
    assert "vegaEmbed(" not in page and "No trial has finished yet." in page


def test_vega_comes_from_the_committed_plots_page_template():
    scripts = inlined_scripts(PROJECT_ROOT / paths.PLOTS_TEMPLATE)
    assert [name for name in re.findall(r"<script>/\* ([a-z-]+) ", scripts)] == ["vega", "vega-lite", "vega-embed"]
    assert "{plot_divs}" not in scripts


def test_the_page_draws_every_chart_offline_in_chromium(tmp_path):
    if browser_check.find_chromium() is None:
        skip_or_fail_in_ci("the sweep page's browser check", "Chromium is not installed (apt-get install chromium)")
    page = tmp_path / "sweep.html"
    scripts = inlined_scripts(PROJECT_ROOT / paths.PLOTS_TEMPLATE)
    page.write_text(build_page("s", TRIALS, "s-2", "val.accuracy", scripts))
    assert browser_check.check_page(page, tmp_path / "sweep.png") == {"vega": 2, "images": 0}
