"""The params loader under generated bad input: any params.yaml gives either checked params or one ParamsError of
one line, never another exception, for every stage's Params and for the check of the whole file."""

import copy
import math
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist_dvc.core.errors import ParamsError
from mnist_dvc.core.params import read_all_params, read_params
from stages.check import Params as CheckStage
from stages.prepare import Params as PrepareStage
from stages.train import Params as TrainStage
from stages.visualize import Params as VisualizeStage
from tests.helpers.project import PROJECT_ROOT

COMMITTED = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
READERS = {
    "prepare": lambda path: read_params(path, PrepareStage),
    "train": lambda path: read_params(path, TrainStage),
    "visualize": lambda path: read_params(path, VisualizeStage),
    "check": lambda path: read_all_params(path, CheckStage),
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def every_key(node: object, prefix: tuple = ()) -> list[tuple]:
    """The path of every value in the committed params, mappings included."""
    if not isinstance(node, dict):
        return [prefix]
    return [prefix, *(path for key, child in node.items() for path in every_key(child, (*prefix, key)))]


KEYS = [path for path in every_key(COMMITTED) if path]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["mlp", "cnn", "adam", "cosine", "relu", "max", "mnist", "tiny", "", "1e-05", ".nan", "-.inf"])
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
# Keys to add: misspellings, names from elsewhere in the file, anything; YAML keys need not be strings.
NAMES = (
    st.sampled_from(["epoch", "trian", "family", "model", "train", "seed", "0", "hidden_units"])
    | st.text(string.ascii_letters + "_.-", min_size=1, max_size=10)
    | st.integers()
    | st.none()
    | st.booleans()
    | st.floats(allow_nan=False)
)


def changed(params: dict, key: tuple, value: object, action: str) -> dict:
    """A deep copy of params with the value at key set, removed, or given a new sibling named value."""
    params = copy.deepcopy(params)
    *parents, leaf = key
    node = params
    for parent in parents:
        node = node[parent]
    if action == "set":
        node[leaf] = value
    elif action == "remove":
        del node[leaf]
    elif isinstance(node, dict) and isinstance(value, str | int | float | bool | None):
        node[value] = 1
    return params


def assert_checked_or_one_line(path: Path) -> None:
    for stage, read in READERS.items():
        try:
            read(path)
        except ParamsError as error:
            message = str(error)
            assert message.startswith(f"{path}: ") and "\n" not in message, (stage, message)


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(KEYS), VALUES | NAMES, st.sampled_from(["set", "remove", "add"])), max_size=3
    )
)
def test_edited_params(tmp_path_factory, edits):
    params = COMMITTED
    for key, value, action in edits:
        try:
            params = changed(params, key, value, action)
        except (KeyError, TypeError):  # a key inside a value that an earlier edit replaced
            continue
    path = tmp_path_factory.mktemp("fuzz") / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    assert_checked_or_one_line(path)


@FUZZ
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_any_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "params.yaml"
    path.write_text(text, encoding="utf-8")
    assert_checked_or_one_line(path)


YAML_PIECES = st.sampled_from(
    ["seed:", "train:", "  epochs:", "  learning_rate:", " ", "\n", "- ", "[", "]", "{", "}", ": ", ",", "&a ", "*a",
     "!!str ", "!!python/object:os.system ", "'", '"', "#", "~", "1e-05", ".NaN", "0x1F", "0o17", "2_000", "1:20",
     "<<: ", "? ", "|\n", "---\n", "...\n", "\t", "%YAML 1.2\n"]
)  # fmt: skip


@FUZZ
@given(pieces=st.lists(YAML_PIECES, max_size=40))
def test_yaml_fragments(tmp_path_factory, pieces):
    path = tmp_path_factory.mktemp("fuzz") / "params.yaml"
    path.write_text("".join(pieces), encoding="utf-8")
    assert_checked_or_one_line(path)


@FUZZ
@given(rate=st.floats(allow_nan=True, allow_infinity=True), spelling=st.sampled_from(["{!r}", "{:e}", "{:E}", "{}"]))
def test_every_spelling_of_a_float_is_a_number_or_refused_in_one_line(tmp_path_factory, rate, spelling):
    """NaN and infinities are refused; any other positive float DVC or a person may write is read as a number."""
    text = (PROJECT_ROOT / "params.yaml").read_text()
    written = spelling.format(rate).replace("inf", ".inf").replace("nan", ".nan")
    path = tmp_path_factory.mktemp("fuzz") / "params.yaml"
    path.write_text(text.replace("learning_rate: 0.001", f"learning_rate: {written}"))
    try:
        params = read_params(path, TrainStage)
    except ParamsError as error:
        assert not (math.isfinite(rate) and rate > 0), str(error)
        assert "train.learning_rate" in str(error) and "\n" not in str(error)
    else:
        assert params.train.learning_rate == pytest.approx(rate)
