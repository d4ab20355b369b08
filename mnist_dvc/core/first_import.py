"""A module's first import in a process, run inside a function of the project's: how TensorFlow is loaded quietly
(quiet.py) and without what Keras would load for nothing (lean.py)."""

import contextlib
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType

# Given the import's own exec_module and the new module: runs the first for the second, with whatever around it.
Runner = Callable[[Callable[[ModuleType], None], ModuleType], None]


class _FirstImport:
    """A one-shot import hook: the first import of any of names runs through run, then the hook is gone."""

    def __init__(self, names: tuple[str, ...], run: Runner) -> None:
        self.names, self.run = names, run

    def find_spec(self, name, path=None, target=None):
        if name not in self.names:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module
        spec.loader.exec_module = lambda module: self.run(exec_module, module)
        return spec


def on_first_import(names: tuple[str, ...], run: Runner) -> None:
    """Run the first import in this process of whichever of names comes first through run, unless one of them is
    already imported."""
    if not set(names) & sys.modules.keys():
        sys.meta_path.insert(0, _FirstImport(names, run))
