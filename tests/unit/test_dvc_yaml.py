"""dvc.yaml against the code: each stage depends on its own module and on the library folders it imports, no
more and no fewer; the library is layered (core below everything, apps above everything); each stage reads
exactly the params sections it declares; and plots name the files that the results module writes."""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

from mnist_dvc.core import paths, results
from mnist_dvc.report.figures import SCORE_AXIS_FLOORS
from tests.helpers.project import PROJECT_ROOT, stage_outputs

PIPELINE = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())
LIBRARY = "mnist_dvc"
# Which rooms of the library each room may import: core is below everything, apps above everything.
ROOMS = {
    "core": {"core"},
    "data": {"core", "data"},
    "model": {"core", "model"},
    "report": {"core", "report"},
    "export": {"core", "data", "model", "export"},
    "apps": {"core", "data", "model", "report", "export", "apps"},
}


def imported_modules(path: Path) -> set[str]:
    """The project modules that a file imports, inside functions too (the stages import TensorFlow's late)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {name for name in names if name.split(".")[0] in (LIBRARY, "stages") and module_file(name)}


def module_file(name: str) -> Path | None:
    for candidate in (name.replace(".", "/") + ".py", name.replace(".", "/") + "/__init__.py"):
        if (PROJECT_ROOT / candidate).is_file():
            return PROJECT_ROOT / candidate
    return None


def closure(module: str) -> set[Path]:
    """Every project file that running module executes: its imports, theirs, and the packages' __init__ files."""
    seen: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        parts = name.split(".")
        files = [module_file(".".join(parts[:k])) for k in range(1, len(parts) + 1)]
        for file in filter(None, files):
            if file not in seen:
                seen.add(file)
                pending += imported_modules(file)
    return seen


def room(file: Path) -> str | None:
    """The room of the library a file is in (core, data, model, report, apps), or None outside the rooms."""
    parts = file.relative_to(PROJECT_ROOT).parts
    return parts[1] if parts[0] == LIBRARY and len(parts) > 2 else None


def declared_code(stage: dict) -> set[str]:
    return {dep for dep in stage["deps"] if dep.startswith((f"{LIBRARY}/", "stages/"))}


@pytest.mark.parametrize("name", list(PIPELINE["stages"]))
def test_a_stage_depends_on_its_module_and_the_library_folders_it_imports(name):
    stage = PIPELINE["stages"][name]
    module = stage["cmd"].removeprefix("python -m ")
    needed = set()
    for file in closure(module):
        relative = file.relative_to(PROJECT_ROOT)
        if room(file):
            needed.add(f"{LIBRARY}/{room(file)}")
        elif relative != Path("stages/__init__.py"):
            needed.add(str(relative))
    assert declared_code(stage) == needed


def test_the_stages_package_runs_no_code_of_its_own():
    """Every stage runs stages/__init__.py first; it is no dep of theirs, so it must hold nothing that could
    change an output."""
    body = ast.parse((PROJECT_ROOT / "stages/__init__.py").read_text()).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


@pytest.mark.parametrize("name", sorted(ROOMS))
def test_each_room_of_the_library_imports_only_the_rooms_below_it(name):
    for file in (PROJECT_ROOT / LIBRARY / name).rglob("*.py"):
        rooms = {room(module_file(module)) for module in imported_modules(file)} - {None}
        assert rooms <= ROOMS[name], f"{file.relative_to(PROJECT_ROOT)} imports from {sorted(rooms - ROOMS[name])}"


def test_the_stages_import_no_app():
    for file in (PROJECT_ROOT / "stages").glob("*.py"):
        apps = [module for module in imported_modules(file) if module.startswith(f"{LIBRARY}.apps")]
        assert not apps, f"{file.name} imports {apps}"


def stage_params(name: str) -> dict:
    """The fields of a stage's Params: section name -> its type."""
    module = importlib.import_module(PIPELINE["stages"][name]["cmd"].removeprefix("python -m "))
    fields = module.Params.model_fields if hasattr(module, "Params") else {}
    return {key: field.annotation for key, field in fields.items()}


@pytest.mark.parametrize("name", [name for name in PIPELINE["stages"] if name != "check"])
def test_a_stage_reads_exactly_the_params_sections_it_declares(name):
    assert list(stage_params(name)) == PIPELINE["stages"][name].get("params", [])


def test_the_check_stage_depends_on_all_of_params_yaml_and_checks_every_section_as_the_stages_do():
    """So that a section no stage reads (a misspelt one) reruns it, and it refuses it."""
    assert PIPELINE["stages"]["check"]["params"] == [{"params.yaml": None}]
    every_section = stage_params("check")
    assert list(every_section) == list(yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text()))
    for name in PIPELINE["stages"]:
        assert stage_params(name).items() <= every_section.items(), name


def test_every_stage_comes_after_the_check():
    """The check's output is the raw data, which prepare reads, and every other stage comes after prepare."""
    assert PIPELINE["stages"]["check"]["outs"] == [{str(paths.RAW_DIR): {"persist": True}}]
    assert f"{paths.RAW_DIR}/${{prepare.dataset}}" in PIPELINE["stages"]["prepare"]["deps"]
    for name in ("train", "evaluate", "visualize"):
        assert any(dep.startswith(f"{paths.PREPARED_DIR}/") for dep in PIPELINE["stages"][name]["deps"]), name


def outputs(stage: dict) -> list[tuple[str, dict]]:
    """Each output of a stage as (outs, metrics or plots; its options)."""
    return [
        (kind, (next(iter(entry.values())) or {}) if isinstance(entry, dict) else {})
        for kind in ("outs", "metrics", "plots")
        for entry in stage.get(kind, [])
    ]


def dvc_keeps_a_copy_to_put_back(stage: dict) -> bool:
    """Whether DVC deletes one of the stage's outputs before running it and keeps a copy of it: in its cache, or in
    its run-cache, which covers a stage with no persist output and none kept in git but metrics and plots
    (dvc/stage/__init__.py, dvc/stage/cache.py)."""
    deleted = [(kind, options) for kind, options in outputs(stage) if not options.get("persist")]
    run_cached = len(deleted) == len(outputs(stage)) and all(
        options.get("cache", True) or kind != "outs" for kind, options in deleted
    )
    return bool(deleted) and (run_cached or any(options.get("cache", True) for _, options in deleted))


def restores(name: str) -> bool:
    """The restores= that the stage's module passes to run_stage (True unless it says)."""
    source = (PROJECT_ROOT / "stages" / f"{name}.py").read_text()
    (call,) = (
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_stage"
    )
    return next((ast.literal_eval(k.value) for k in call.keywords if k.arg == "restores"), True)


@pytest.mark.parametrize("name", list(PIPELINE["stages"]))
def test_a_stage_puts_back_its_last_good_outputs_exactly_when_dvc_keeps_a_copy(name):
    assert restores(name) == dvc_keeps_a_copy_to_put_back(PIPELINE["stages"][name])


def test_only_check_and_card_have_nothing_to_put_back():
    assert [name for name in PIPELINE["stages"] if not restores(name)] == ["check", "card"]


def stage_plots(stage: str) -> dict[str, dict]:
    return {path: props for entry in PIPELINE["stages"][stage]["plots"] for path, props in entry.items()}


def template(name: str) -> dict:
    return json.loads((PROJECT_ROOT / ".dvc/plots" / f"{name}.json").read_text())


def test_the_training_curves_are_plots_of_the_train_stage_drawn_splits_together():
    plots = stage_plots("train")
    assert list(plots) == [str(results.curve_file(metric)) for metric in results.METRICS]
    for props in plots.values():
        assert (props["template"], props["x"]) == ("curves", results.CURVE_COLUMNS[0])
    fold = next(step["fold"] for step in template("curves")["transform"] if "fold" in step)
    assert fold == list(results.TRAINING_SPLITS) == list(results.CURVE_COLUMNS[1:])


def test_the_f1_chart_starts_its_axis_where_the_figure_does():
    (props,) = [props for path, props in stage_plots("evaluate").items() if path == str(paths.PER_CLASS_METRICS)]
    assert props["template"] == "scores"
    floors = next(step["calculate"] for step in template("scores")["transform"] if "calculate" in step)
    assert [float(floor) for floor in re.findall(r"\? ([\d.]+)", floors)] + [0.0] == list(SCORE_AXIS_FLOORS)


def test_the_confusion_matrix_is_oriented_as_the_figure():
    props = stage_plots("evaluate")[str(paths.PREDICTIONS)]
    assert (props["x"], props["y"]) == ("predicted", "actual")  # columns predicted, rows true, as the PNG
    assert props["template"] == "confusion_mistakes"
    assert template("confusion_mistakes")["spec"]["encoding"]["y"]["field"] == "<DVC_METRIC_Y>"


def declared_outputs() -> set[str]:
    return {path for stage in PIPELINE["stages"].values() for path in stage_outputs(stage)}


def test_every_plot_is_a_stage_output():
    """So that DVC's run-cache covers them, and each is drawn once: DVC draws a stage's plots whatever the
    top-level plots say."""
    assert "plots" not in PIPELINE


def test_paths_module_and_dvc_yaml_agree():
    outputs = declared_outputs()
    for path in (paths.MODEL, paths.TEST_METRICS, paths.PER_CLASS_METRICS, paths.PREDICTIONS, paths.PLOTS_DIR):
        assert str(path) in outputs
    exports = (paths.SAVED_MODEL, paths.ONNX_MODEL, paths.LITERT_MODEL, paths.EXPORT_FACTS, paths.EXPORT_METRICS)
    for path in (*exports, paths.MODEL_CARD):
        assert str(path) in outputs
    assert str(paths.PREPARED_DIR) in outputs
    assert {str(paths.TRAIN_METRICS), *(str(results.curve_file(metric)) for metric in results.METRICS)} <= outputs


def test_every_artifact_is_a_stage_output():
    outputs = declared_outputs()
    artifacts = {artifact["path"] for artifact in PIPELINE["artifacts"].values()}
    assert artifacts == {str(path) for path in (paths.MODEL, paths.SAVED_MODEL, paths.ONNX_MODEL, paths.LITERT_MODEL)}
    assert artifacts <= outputs
