"""Keras loads without scikit-learn, matplotlib and pandas in every stage and command, and they still import after;
and without the garbage collector, which afterwards leaves what the import made out of its runs."""

import functools
import gc
import json
import subprocess
import sys
import textwrap

import pytest

from mnist_dvc.core import lean
from tests.helpers.project import PROJECT_ROOT

pytest.importorskip("keras")

# After the package, a first import of Keras or TensorFlow: which of the extras came with it, whether Keras' own
# optional uses of them see them, and whether they import once it is done; whether the collector runs after, and how
# many objects it leaves out.
SHOW = textwrap.dedent(
    """
    import gc, json, sys
    {before}
    import mnist_dvc
    import {first}
    collector = {{"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}
    import keras
    from keras.src.trainers.data_adapters import array_slicing
    from keras.src.visualization import plot_image_gallery
    from keras.src.wrappers import fixes
    loaded = [name for name in ("sklearn", "matplotlib", "pandas") if name in sys.modules]
    seen = [array_slicing.pandas is not None, plot_image_gallery.plt is not None, fixes.sklearn is not None]
    import matplotlib.pyplot, pandas, sklearn.metrics
    print(json.dumps({{"loaded": loaded, "seen": seen, "collector": collector}}))
    """
)


@functools.cache  # each run is a TensorFlow import of its own (seconds); the tests read the same runs
def loaded_with_keras(first: str, before: str = "") -> dict:
    code = SHOW.format(first=first, before=before)
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("first", ["keras", "tensorflow"])
def test_keras_loads_without_the_extras_and_they_import_afterwards(first):
    shown = loaded_with_keras(first)
    assert shown["loaded"] == [] and shown["seen"] == [False, False, False]


@pytest.mark.parametrize("first", ["keras", "tensorflow"])
def test_the_collector_runs_after_the_import_and_leaves_out_what_it_made(first):
    # A bare `import mnist_dvc` has made about 10,000 objects; TensorFlow's import makes hundreds of thousands.
    collector = loaded_with_keras(first)["collector"]
    assert collector["enabled"] and collector["frozen"] > 200_000


def test_a_collector_paused_by_the_program_is_left_paused():
    shown = loaded_with_keras("keras", before="gc.disable()")
    assert shown["collector"] == {"enabled": False, "frozen": 0}


def test_an_extra_imported_before_is_left_to_keras():
    shown = loaded_with_keras("keras", before="import matplotlib")
    assert shown["loaded"] == ["matplotlib"] and shown["seen"] == [False, True, False]


def test_the_collector_pauses_within_and_leaves_out_what_is_alive_after():
    gc.unfreeze()
    try:
        with lean.collector_paused():
            assert not gc.isenabled()
            made = [[] for _ in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() >= len(made)
    finally:
        gc.unfreeze()


def test_the_collector_is_back_and_nothing_left_out_when_the_import_fails():
    gc.unfreeze()
    with pytest.raises(ImportError), lean.collector_paused():
        raise ImportError("no such module")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_what_is_hidden_comes_back_as_it_was(monkeypatch):
    """Hidden only within the context; a module present before is never touched."""
    monkeypatch.setattr(lean, "EXTRAS", ("json", "tests.helpers.not_a_module"))
    with lean.extras_hidden():
        assert sys.modules["tests.helpers.not_a_module"] is None
        with pytest.raises(ImportError):
            import tests.helpers.not_a_module  # noqa: F401
        assert sys.modules["json"] is json
    assert "tests.helpers.not_a_module" not in sys.modules and sys.modules["json"] is json
