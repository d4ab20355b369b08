"""TensorFlow's start-up without the packages that Keras loads for features this project never uses, and without
Python's garbage collector walking what the import makes.

Keras imports scikit-learn (for its scikit-learn wrappers), matplotlib (its plotting helpers) and pandas (DataFrames
as inputs) whenever they are installed, each inside a `try` that does without it. The project has all three installed
for its own uses (the metrics, the figures, DVC's tables) and uses none of them through Keras, yet they were 1.3 s
of a 3.8 s `import keras` on a 2-core machine (docs/performance.md), paid by every stage and command that loads a
model. So the first import of Keras or TensorFlow in a process, whichever comes first, runs with those three hidden;
afterwards they import as usual, for the code that uses them itself. One already imported is not hidden.

The same import makes about 450,000 objects that live as long as the process (modules, functions, classes), and
Python's cyclic garbage collector walks all of them again each time it runs, during the import and after: 0.6 s of a
2.4 s `import keras`, and more in every stage that goes on to build or load a model. So the collector pauses for the
import, then leaves those objects out of its later runs (gc.freeze: they are never freed before the process ends,
which is when they would have been freed anyway).
"""

import contextlib
import gc
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


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """A context in which Python's cyclic garbage collector does not run; after it, every object then alive is left
    out of the collector's later runs. One that the program paused itself is left paused, and nothing frozen."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        gc.enable()


def _import_lean(exec_module: Callable[[ModuleType], None], module: ModuleType) -> None:
    with collector_paused(), extras_hidden():
        exec_module(module)


def install() -> None:
    """Load Keras without EXTRAS and without the collector in this process, unless Keras or TensorFlow is already
    loaded."""
    on_first_import(("keras", "tensorflow"), _import_lean)
