"""TensorFlow's start-up without the packages that Keras loads for features this project never uses.

Keras imports scikit-learn (for its scikit-learn wrappers), matplotlib (its plotting helpers) and pandas (DataFrames
as inputs) whenever they are installed, each inside a `try` that does without it. The project has all three installed
for its own uses (the metrics, the figures, DVC's tables) and uses none of them through Keras, yet they were 1.3 s
of a 3.8 s `import keras` on a 2-core machine (docs/performance.md), paid by every stage and command that loads a
model. So the first import of Keras or TensorFlow in a process, whichever comes first, runs with those three hidden;
afterwards they import as usual, for the code that uses them itself. One already imported is not hidden.
"""

import contextlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType

from mnist_dvc.core.first_import import on_first_import

EXTRAS = ("sklearn", "matplotlib", "pandas")


@contextlib.contextmanager
def extras_hidden() -> Iterator[None]:
    """A context in which importing any of EXTRAS not yet imported raises ImportError, as if it were not installed."""
    hidden = [name for name in EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # Python's own mark for "not importable"
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


def _import_without_extras(exec_module: Callable[[ModuleType], None], module: ModuleType) -> None:
    with extras_hidden():
        exec_module(module)


def install() -> None:
    """Load Keras without EXTRAS in this process, unless Keras or TensorFlow is already loaded."""
    on_first_import(("keras", "tensorflow"), _import_without_extras)
