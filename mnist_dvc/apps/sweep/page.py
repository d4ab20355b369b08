"""The page of a sweep, sweeps/<name>.html: every trial's params against its test accuracy (parallel coordinates),
test accuracy against fit time, the best trial and the command that runs it, and a table of every trial.

It works offline: Vega, Vega-Lite and Vega-Embed are inlined from the plots page template (.dvc/plots_offline.html,
built from the npm packages that package-lock.json pins; tools/plots_page.py), as `dvc plots show`'s page is.
"""

import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnist_dvc.apps.sweep.plan import SweepError, Trial
from mnist_dvc.apps.sweep.worker import FINISHED
from mnist_dvc.core import paths
from mnist_dvc.core.files import write_text

ACCURACY = "test.accuracy"
# The inlined scripts, as tools/plots_page.py writes them into the template: `<script>/* vega 5.33.1 */ ...`.
INLINED_SCRIPT = re.compile(r"<script>/\* (?:vega|vega-lite|vega-embed) [^*]* \*/.*?</script>", re.DOTALL)
# Numbers spread over more than this ratio get a log axis (learning rates do).
LOG_RATIO = 10


@dataclass(frozen=True)
class PageTrial:
    """One row of the page: a trial, its outcome, and for a finished one its params and scores."""

    name: str
    overrides: tuple[str, ...]
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    fit_seconds: float | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == FINISHED and ACCURACY in self.metrics


def varied_params(trials: list[PageTrial]) -> list[str]:
    """The params whose values differ between the finished trials, in params.yaml's order: what the sweep varied."""
    finished = [trial for trial in trials if trial.finished]
    keys = list(dict.fromkeys(key for trial in finished for key in trial.params))
    return [key for key in keys if len({json.dumps(trial.params.get(key)) for trial in finished}) > 1]


def axis(values: list[Any]) -> tuple[list[float], list[tuple[float, str]]]:
    """Where each value sits on a parallel-coordinates axis (0 to 1), and the axis' labelled ticks.

    Numbers are spaced by value, on a log scale when they span more than LOG_RATIO; anything else (names, lists,
    true/false) is spaced evenly in sorted order, each value labelled.
    """
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        low, high = min(values), max(values)
        log = low > 0 and high / low > LOG_RATIO
        scale = math.log10 if log else float
        span = (scale(high) - scale(low)) or 1.0
        positions = [(scale(v) - scale(low)) / span for v in values]
        distinct = sorted(set(values))
        shown = distinct if len(distinct) <= 6 else [low, high]
        return positions, [((scale(v) - scale(low)) / span, _label(v)) for v in shown]
    labels = sorted({_label(v) for v in values})
    place = {label: (i / (len(labels) - 1) if len(labels) > 1 else 0.5) for i, label in enumerate(labels)}
    return [place[_label(v)] for v in values], [(place[label], label) for label in labels]


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(_label, value)) + "]"
    return str(value)


def parallel_spec(trials: list[PageTrial], keys: list[str]) -> dict:
    """Vega-Lite: one line per finished trial through an axis per varied param and one for test accuracy."""
    finished = [trial for trial in trials if trial.finished]
    axes = [*keys, ACCURACY]
    lines, ticks = [], []
    for key in axes:
        values = [trial.metrics[ACCURACY] if key == ACCURACY else trial.params.get(key) for trial in finished]
        positions, labelled = axis(values)
        for trial, value, position in zip(finished, values, positions, strict=True):
            lines.append(
                {
                    "trial": trial.name,
                    "axis": key,
                    "position": position,
                    "value": _label(value),
                    "accuracy": trial.metrics[ACCURACY],
                }
            )
        ticks += [{"axis": key, "position": position, "label": label} for position, label in labelled]
    x = {
        "field": "axis",
        "type": "nominal",
        "sort": axes,
        "title": None,
        "axis": {"labelAngle": 0, "orient": "top", "domain": False, "ticks": False, "labelPadding": 10},
    }
    y = {"field": "position", "type": "quantitative", "scale": {"domain": [0, 1]}, "axis": None}
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "config": {"view": {"stroke": None}},
        "width": max(360, 170 * len(axes)),
        "height": 320,
        "datasets": {"lines": lines, "ticks": ticks, "axes": [{"axis": key} for key in axes]},
        "layer": [
            {
                "data": {"name": "axes"},
                "mark": {"type": "rule", "color": "#999"},
                "encoding": {
                    "x": x,
                    "y": {"datum": 0, **{k: y[k] for k in ("type", "scale", "axis")}},
                    "y2": {"datum": 1},
                },
            },
            {
                "data": {"name": "lines"},
                "mark": {"type": "line", "strokeWidth": 2, "opacity": 0.8},
                "encoding": {
                    "x": x,
                    "y": y,
                    "detail": {"field": "trial", "type": "nominal"},
                    "color": {"field": "accuracy", "type": "quantitative", "title": "test accuracy"},
                    "tooltip": [
                        {"field": "trial", "type": "nominal"},
                        {"field": "axis", "type": "nominal", "title": "param"},
                        {"field": "value", "type": "nominal"},
                    ],
                },
            },
            {
                "data": {"name": "ticks"},
                "mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 11},
                "encoding": {"x": x, "y": y, "text": {"field": "label", "type": "nominal"}},
            },
        ],
    }


def fit_time_spec(trials: list[PageTrial]) -> dict:
    """Vega-Lite: test accuracy against the train stage's fit time, one point per finished trial that trained."""
    points = [
        {
            "trial": trial.name,
            "fit": trial.fit_seconds,
            "accuracy": trial.metrics[ACCURACY],
            "overrides": " ".join(trial.overrides),
        }
        for trial in trials
        if trial.finished and trial.fit_seconds is not None
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": 480,
        "height": 300,
        "data": {"values": points},
        "mark": {"type": "point", "filled": True, "size": 80},
        "encoding": {
            "x": {
                "field": "fit",
                "type": "quantitative",
                "title": "fit time (s)",
                "scale": {"zero": False, "padding": 16},
            },
            "y": {
                "field": "accuracy",
                "type": "quantitative",
                "title": "test accuracy",
                "scale": {"zero": False, "padding": 16},
            },
            "tooltip": [
                {"field": "trial", "type": "nominal"},
                {"field": "accuracy", "type": "quantitative", "format": ".4f"},
                {"field": "fit", "type": "quantitative", "format": ".1f", "title": "fit time (s)"},
                {"field": "overrides", "type": "nominal"},
            ],
        },
    }


def inlined_scripts(template: Path = paths.PLOTS_TEMPLATE) -> str:
    """Vega, Vega-Lite and Vega-Embed as the plots page template has them inlined."""
    try:
        scripts = INLINED_SCRIPT.findall(template.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(
            f"{template}: not found; the sweep's page takes Vega from it (python -m tools.plots_page build)"
        ) from None
    if len(scripts) != 3:
        raise SweepError(
            f"{template}: expected Vega, Vega-Lite and Vega-Embed inlined; rebuild it: python -m tools.plots_page build"
        )
    return "\n".join(scripts)


def build_page(sweep: str, trials: list[PageTrial], best: str | None, metric: str, scripts: str) -> str:
    """The whole page, self-contained."""
    finished = [trial for trial in trials if trial.finished]
    keys = varied_params(trials)
    charts, embeds = [], []
    if finished:
        charts.append(
            ("parallel", "Params against test accuracy", "One line per trial; the last axis is its test accuracy.")
        )
        embeds.append(("parallel", parallel_spec(trials, keys)))
        if any(trial.fit_seconds is not None for trial in finished):
            charts.append(
                (
                    "fit-time",
                    "Test accuracy against fit time",
                    "The train stage's fit time, where the trial trained (not restored from the run-cache).",
                )
            )
            embeds.append(("fit-time", fit_time_spec(trials)))
    failed = len(trials) - len(finished)
    parts = [f"<h1>Sweep {_e(sweep)}</h1>", f"<p>{len(finished)} trials finished, {failed} failed.</p>"]
    parts.append(_best(trials, best, metric))
    for chart_id, title, note in charts:
        parts.append(f"<h2>{_e(title)}</h2><p class='note'>{_e(note)}</p><div id='{chart_id}'></div>")
    if not finished:
        parts.append("<p>No trial has finished yet.</p>")
    parts.append(_table(trials, keys))
    calls = "\n".join(f"vegaEmbed('#{chart_id}', {_json(spec)}, {{actions: false}});" for chart_id, spec in embeds)
    return PAGE.format(title=_e(f"Sweep {sweep}"), scripts=scripts, body="\n".join(parts), calls=calls)


def write_page(path: Path, sweep: str, trials: list[PageTrial], best: str | None, metric: str) -> Path:
    write_text(path, build_page(sweep, trials, best, metric, inlined_scripts()))
    return path


def _best(trials: list[PageTrial], best: str | None, metric: str) -> str:
    trial = next((trial for trial in trials if trial.name == best), None)
    if trial is None:
        return ""
    command = Trial(trial.name, trial.overrides).command
    return (
        f"<h2>Best trial</h2><p><b>{_e(trial.name)}</b>, by {_e(metric)}: {trial.metrics[metric]:.4f}; "
        f"test accuracy {trial.metrics[ACCURACY]:.4f}.</p>"
        f"<p>Keep it (params, metrics and model): <code>dvc exp apply {_e(trial.name)}</code></p>"
        f"<p>Run it again on any clone of the same commit: <code>{_e(command)}</code></p>"
    )


def _table(trials: list[PageTrial], keys: list[str]) -> str:
    order = sorted(trials, key=lambda trial: (not trial.finished, -trial.metrics.get(ACCURACY, 0.0), trial.name))
    head = ["trial", *keys, "val accuracy", "test accuracy", "fit time (s)", "outcome"]
    rows = []
    for trial in order:
        cells = [trial.name, *(_label(trial.params[key]) if key in trial.params else "" for key in keys)]
        cells += [_score(trial.metrics.get("val.accuracy")), _score(trial.metrics.get(ACCURACY))]
        cells += ["" if trial.fit_seconds is None else f"{trial.fit_seconds:.1f}"]
        cells += ["finished" if trial.finished else f"failed: {trial.error or trial.status}"]
        rows.append("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in cells) + "</tr>")
    header = "<tr>" + "".join(f"<th>{_e(cell)}</th>" for cell in head) + "</tr>"
    return f"<h2>Every trial</h2><table>{header}{''.join(rows)}</table>"


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _json(spec: dict) -> str:
    """JSON that cannot end the script it is in."""
    return json.dumps(spec).replace("</", "<\\/")


PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{title}</title>
{scripts}
<style>
body {{ font-family: sans-serif; margin: 2em; }}
code {{ background: #f3f3f3; padding: 0.1em 0.3em; }}
.note {{ color: #555; }}
table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }}
</style>
</head>
<body>
{body}
<script>
{calls}
</script>
</body>
</html>
"""
