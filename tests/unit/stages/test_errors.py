"""Bad input meets each stage's entry point: one line on stderr, exit 1, earlier outputs intact."""

import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from mnist_dvc.data.idx import encode_idx
from tests.helpers.data import install_tiny_dataset, tiny_payloads
from tests.helpers.project import PROJECT_ROOT, set_param, tiny_params, write_params
from tests.helpers.servers import closed_port_url


def run_stage(name, cwd, debug=False):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("MNIST_DEBUG", None)
    if debug:
        env["MNIST_DEBUG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", f"stages.{name}"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def assert_one_line_error(result, stage, *fragments):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith(f"{stage}: error: ")]
    assert len(error_lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]
    return error_lines[0]


def outputs(root):
    return {path.relative_to(root): path.read_bytes() for path in sorted((root / "data/prepared").glob("*"))}


@pytest.fixture
def prepared(tmp_path):
    """A working directory where prepare succeeded once: its outputs must survive every failure."""
    install_tiny_dataset(tmp_path, mirrors=[closed_port_url()])
    write_params(tmp_path, tiny_params())
    result = run_stage("prepare", tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path, outputs(tmp_path)


def raw(root, name):
    return root / "data/raw/tiny" / name


TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


@pytest.mark.parametrize(
    ("corrupt", "fragments"),
    [
        (lambda path: path.unlink(), ["not found", "python -m mnist_dvc.apps.fetch tiny", "dvc pull"]),
        (lambda path: path.write_bytes(gzip.compress(b"other bytes")), ["checksum mismatch"]),
        (lambda path: path.write_bytes(path.read_bytes()[:500]), ["gzip data is truncated"]),
        (lambda path: path.write_bytes(b"\x89PNG not gzip"), ["not a gzip file"]),
        (lambda path: path.write_bytes(b""), ["file is empty"]),
    ],
    ids=["missing", "checksum", "truncated", "not-gzip", "empty"],
)
def test_bad_raw_file(prepared, corrupt, fragments):
    root, before = prepared
    path = raw(root, TRAIN_IMAGES)
    corrupt(path)
    left = path.read_bytes() if path.exists() else None
    assert_one_line_error(run_stage("prepare", root), "prepare", f"data/raw/tiny/{TRAIN_IMAGES}: ", *fragments)
    assert outputs(root) == before
    assert (path.read_bytes() if path.exists() else None) == left, "prepare never moves or changes a raw file"
    assert not list(path.parent.glob("*.rejected"))


def pinned_bad_payload(root, role, payload):
    """Replace one raw file by a payload that datasets.yaml pins, so only the IDX checks can catch it."""
    payloads = tiny_payloads()
    payloads[role] = payload
    install_tiny_dataset(root, payloads, mirrors=[closed_port_url()])


@pytest.mark.parametrize(
    ("role", "payload", "message"),
    [
        ("train_images", struct.pack(">4I", 0x00000903, 1, 28, 28) + bytes(784), "bad IDX magic number 0x00000903"),
        ("train_images", encode_idx(np.zeros((200, 28, 27), dtype=np.uint8)), "images are 28x27; expected 28x28"),
        ("train_labels", encode_idx(np.zeros(199, dtype=np.uint8)), "200 images but 199 labels"),
        ("test_labels", struct.pack(">2I", 0x00000801, 100) + bytes(50), "promises shape (100,)"),
    ],
    ids=["magic", "dimensions", "counts", "short"],
)
def test_malformed_idx(prepared, role, payload, message):
    root, before = prepared
    pinned_bad_payload(root, role, payload)
    assert_one_line_error(run_stage("prepare", root), "prepare", message)
    assert outputs(root) == before


def test_debug_variable_shows_the_traceback(prepared):
    root, _ = prepared
    raw(root, TRAIN_IMAGES).write_bytes(b"")
    result = run_stage("prepare", root, debug=True)
    assert result.returncode != 0 and "Traceback" in result.stderr and "mnist_dvc.core.errors." in result.stderr


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda root: (root / "params.yaml").unlink(), "params.yaml: file not found"),
        (lambda root: (root / "params.yaml").write_text("prepare: {dataset: tiny\n"), "params.yaml: not valid YAML"),
        (lambda root: set_param(root, "prepare.val_fraction", 1), "prepare.val_fraction = 1"),
        (lambda root: set_param(root, "prepare.dataset", "cifar"), "prepare.dataset = 'cifar'"),
        (lambda root: set_param(root, "prepare.shuffle", True), "unknown key prepare.shuffle"),
    ],
    ids=["missing", "invalid-yaml", "out-of-range", "unknown-dataset", "unknown-key"],
)
def test_bad_params_stop_prepare_before_any_data_is_read(prepared, edit, message):
    root, before = prepared
    raw(root, TRAIN_IMAGES).write_bytes(b"")  # would fail if read: params must fail first
    edit(root)
    assert_one_line_error(run_stage("prepare", root), "prepare", message)
    assert outputs(root) == before
    assert raw(root, TRAIN_IMAGES).exists()


EARLIER_OUTPUTS = {"models/model.keras": b"an earlier good model", "metrics/train.json": b'{"epochs": 50}'}


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("train", "epochs", "fifty", "train.epochs = 'fifty'; expected an integer >= 1"),
        ("train", "epochs", 0, "train.epochs = 0; expected an integer >= 1"),
        ("train", "batch_size", 0, "train.batch_size = 0; expected an integer >= 1"),
        ("train", "batch_size", -32, "train.batch_size = -32; expected an integer >= 1"),
        ("train", "learning_rate", -0.001, "train.learning_rate = -0.001; expected a number > 0"),
        ("train.model", "dropout", 1, "train.model.dropout = 1; expected a number >= 0 and < 1"),
        ("train.model", "hidden_activation", "relu6", "hidden_activation = 'relu6'; expected one of: sigmoid, relu"),
        ("train.model", "output_activation", "tanh", "output_activation = 'tanh'; expected one of: sigmoid, softmax"),
        ("train", "optimizer", "adamax", "train.optimizer = 'adamax'; expected one of: adam, adamw, sgd, rmsprop"),
        ("train.model", "hidden_units", [], "train.model.hidden_units = []; expected a non-empty list"),
        ("train", "momentum", 0.9, "train.momentum = 0.9 does not apply to optimizer 'adam'"),
        ("train", "epochs", None, "train.epochs is missing; expected an integer >= 1"),
        (None, "seed", "42", "seed = '42'; expected an integer >= 0"),
    ],
)
def test_bad_params_stop_train_before_any_data_is_loaded(tmp_path, section, key, value, message):
    params = tiny_params()
    target = params
    for part in section.split(".") if section else []:
        target = target[part]
    if value is None:
        del target[key]
    else:
        target[key] = value
    write_params(tmp_path, params)
    for path, content in EARLIER_OUTPUTS.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(content)
    # No data/prepared here: a params error must come first.
    assert_one_line_error(run_stage("train", tmp_path), "train", message)
    assert {path: (tmp_path / path).read_bytes() for path in EARLIER_OUTPUTS} == EARLIER_OUTPUTS


def test_missing_inputs_say_which_stage_to_run(tmp_path):
    write_params(tmp_path, tiny_params())
    assert_one_line_error(run_stage("train", tmp_path), "train", "data/prepared/train.npz: not found", "dvc repro")


def test_unreadable_model_is_reported_and_earlier_metrics_survive(prepared):
    root, _ = prepared
    (root / "models").mkdir()
    (root / "models/model.keras").write_bytes(b"not a model")
    (root / "metrics").mkdir()
    (root / "metrics/test.json").write_text('{"test": {"accuracy": 0.97}}')
    assert_one_line_error(run_stage("evaluate", root), "evaluate", "models/model.keras: not a readable Keras model")
    assert (root / "metrics/test.json").read_text() == '{"test": {"accuracy": 0.97}}'
