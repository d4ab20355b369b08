"""Keras loads without scikit-learn, matplotlib and pandas in every stage and command, and they still import after."""

import json
import subprocess
import sys
import textwrap

import pytest

from mnist_dvc.core import lean
from tests.helpers.project import PROJECT_ROOT

pytest.importorskip("keras")

# After the package, a first import of Keras or TensorFlow: which of the extras came with it, whether Keras' own
# optional uses of them see them, and whether they import once it is done.
SHOW = textwrap.dedent(
    """
    import json, sys
    {before}
    import mnist_dvc
    import {first}
    import keras
    from keras.src.trainers.data_adapters import array_slicing
    from keras.src.visualization import plot_image_gallery
    from keras.src.wrappers import fixes
    loaded = [name for name in ("sklearn", "matplotlib", "pandas") if name in sys.modules]
    seen = [array_slicing.pandas is not None, plot_image_gallery.plt is not None, fixes.sklearn is not None]
    import matplotlib.pyplot, pandas, sklearn.metrics
    print(json.dumps({{"loaded": loaded, "seen": seen}}))
    """
)


def loaded_with_keras(first: str, before: str = "") -> dict:
    code = SHOW.format(first=first, before=before)
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("first", ["keras", "tensorflow"])
def test_keras_loads_without_the_extras_and_they_import_afterwards(first):
    assert loaded_with_keras(first) == {"loaded": [], "seen": [False, False, False]}


def test_an_extra_imported_before_is_left_to_keras():
    shown = loaded_with_keras("keras", before="import matplotlib")
    assert shown["loaded"] == ["matplotlib"] and shown["seen"] == [False, True, False]


def test_what_is_hidden_comes_back_as_it_was(monkeypatch):
    """Hidden only within the context; a module present before is never touched."""
    monkeypatch.setattr(lean, "EXTRAS", ("json", "tests.helpers.not_a_module"))
    with lean.extras_hidden():
        assert sys.modules["tests.helpers.not_a_module"] is None
        with pytest.raises(ImportError):
            import tests.helpers.not_a_module  # noqa: F401
        assert sys.modules["json"] is json
    assert "tests.helpers.not_a_module" not in sys.modules and sys.modules["json"] is json
