"""dvc.yaml against the code: each stage depends on every project module it imports, and plots name the
files that the results module writes."""

import ast

import pytest
import yaml

from stages import paths, results
from tests.conftest import PROJECT_ROOT

PIPELINE = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())


def project_imports(module: str) -> set[str]:
    """The project modules (as paths) that module imports, directly or through other project modules, itself included.

    Imports inside functions count too: the stages import TensorFlow's modules late, on purpose. The package's
    __init__ counts as well: Python runs it before any of its modules, and it sets TensorFlow's environment.
    """
    seen: set[str] = set()
    pending = [module, "stages/__init__.py"]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse((PROJECT_ROOT / path).read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                candidate = name.replace(".", "/") + ".py"
                if name.split(".")[0] == "stages" and (PROJECT_ROOT / candidate).is_file():
                    pending.append(candidate)
    return seen


@pytest.mark.parametrize("name", list(PIPELINE["stages"]))
def test_stage_deps_list_exactly_the_modules_it_imports(name):
    stage = PIPELINE["stages"][name]
    module = stage["cmd"].removeprefix("python -m ")
    imported = project_imports(module.replace(".", "/") + ".py")
    listed = {dep for dep in stage["deps"] if dep.startswith("stages/")}
    assert listed == imported, f"{name}: missing {sorted(imported - listed)}, not imported {sorted(listed - imported)}"


def test_the_training_curves_are_a_plot_of_the_train_stage():
    plots = [next(iter(entry)) for entry in PIPELINE["stages"]["train"]["plots"]]
    assert plots == [str(results.TRAIN_CURVES_DIR.parent)]
    for split in results.TRAINING_SPLITS:
        for metric in results.METRICS:
            assert results.curve_file(split, metric).is_relative_to(results.TRAIN_CURVES_DIR.parent)


def declared_outputs() -> set[str]:
    return {
        next(iter(entry)) if isinstance(entry, dict) else entry
        for stage in PIPELINE["stages"].values()
        for kind in ("outs", "metrics", "plots")
        for entry in stage.get(kind, [])
    }


def test_every_plotted_file_is_a_stage_output():
    outputs = declared_outputs()
    for definition in PIPELINE["plots"]:
        files = (
            [definition]
            if isinstance(definition, str)
            else [path for props in definition.values() for path in props["y"]]
        )
        for path in files:
            assert any(path == out or path.startswith(out + "/") for out in outputs), path


def test_paths_module_and_dvc_yaml_agree():
    outputs = declared_outputs()
    for path in (paths.MODEL, paths.TEST_METRICS, paths.PER_CLASS_METRICS, paths.PREDICTIONS, paths.PLOTS_DIR):
        assert str(path) in outputs
    assert str(paths.PREPARED_DIR) in outputs
    assert {str(paths.TRAIN_METRICS), str(results.TRAIN_CURVES_DIR.parent)} <= outputs
