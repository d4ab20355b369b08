import pytest
import yaml

from stages.errors import ParamsError
from stages.params import load_prepare_params, load_train_params, load_visualize_params
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def params():
    return yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def write(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_defaults_are_the_reference_model():
    train = load_train_params(PROJECT_ROOT / "params.yaml")
    assert train.hidden_units == (256, 128)
    assert (train.hidden_activation, train.output_activation) == ("sigmoid", "sigmoid")
    assert (train.optimizer, train.learning_rate) == ("adam", 0.001)
    assert (train.epochs, train.batch_size, train.dropout, train.early_stopping_patience) == (50, 2000, 0.0, 0)
    prepare = load_prepare_params(PROJECT_ROOT / "params.yaml")
    assert (prepare.dataset, prepare.val_fraction) == ("mnist", 0.2)
    assert prepare.seed == train.seed
    load_visualize_params(PROJECT_ROOT / "params.yaml", 10)


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("train", "epochs", "fifty", r"train.epochs = 'fifty'; expected an integer >= 1"),
        ("train", "epochs", 0, r"train.epochs = 0; expected an integer >= 1"),
        ("train", "epochs", 2.5, r"train.epochs = 2.5; expected an integer"),
        ("train", "epochs", True, r"train.epochs = True; expected an integer"),
        ("train", "batch_size", 0, r"train.batch_size = 0; expected an integer >= 1"),
        ("train", "batch_size", -5, r"train.batch_size = -5"),
        ("train", "learning_rate", -0.1, r"train.learning_rate = -0.1; expected a number > 0"),
        ("train", "learning_rate", 0, r"train.learning_rate = 0; expected a number > 0"),
        ("train", "dropout", 1, r"train.dropout = 1; expected a number >= 0 and < 1"),
        ("train", "dropout", -0.1, r"train.dropout = -0.1"),
        ("train", "momentum", 1.5, r"train.momentum = 1.5"),
        ("train", "hidden_units", [], r"train.hidden_units = \[\]; expected a non-empty list"),
        ("train", "hidden_units", [256, 0], r"train.hidden_units = \[256, 0\]"),
        ("train", "hidden_units", 256, r"train.hidden_units = 256"),
        ("train", "hidden_activation", "sigmoidd", r"hidden_activation = 'sigmoidd'; expected one of: sigmoid, relu"),
        ("train", "output_activation", "relu", r"train.output_activation = 'relu'; expected one of: sigmoid, softmax"),
        ("train", "optimizer", "adamw", r"train.optimizer = 'adamw'; expected one of: adam, sgd, rmsprop"),
        ("train", "early_stopping_patience", -1, r"train.early_stopping_patience = -1"),
        ("prepare", "val_fraction", 0, r"prepare.val_fraction = 0; expected a number > 0 and < 1"),
        ("prepare", "val_fraction", 1, r"prepare.val_fraction = 1; expected a number > 0 and < 1"),
        ("prepare", "dataset", "", r"prepare.dataset = ''; expected a non-empty string"),
        (None, "seed", -1, r"seed = -1; expected an integer >= 0"),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(tmp_path, params, section, key, value, message):
    (params[section] if section else params)[key] = value
    path = write(tmp_path, params)
    with pytest.raises(ParamsError, match=message):
        (load_prepare_params if section == "prepare" else load_train_params)(path)


def test_missing_key(tmp_path, params):
    del params["train"]["epochs"]
    with pytest.raises(ParamsError, match="train.epochs is missing; expected an integer >= 1"):
        load_train_params(write(tmp_path, params))


def test_unknown_key_lists_the_known_ones(tmp_path, params):
    params["train"]["epoch"] = 3
    with pytest.raises(ParamsError, match="unknown key train.epoch; expected one of: batch_size, dropout"):
        load_train_params(write(tmp_path, params))


def test_missing_section(tmp_path, params):
    del params["train"]
    with pytest.raises(ParamsError, match="section 'train' is missing"):
        load_train_params(write(tmp_path, params))


def test_momentum_with_adam_is_an_invalid_combination(tmp_path, params):
    params["train"]["momentum"] = 0.9
    with pytest.raises(ParamsError, match="train.momentum = 0.9 does not apply to optimizer 'adam'"):
        load_train_params(write(tmp_path, params))
    params["train"]["optimizer"] = "sgd"
    assert load_train_params(write(tmp_path, params)).momentum == 0.9


def test_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="params.yaml: file not found"):
        load_train_params(tmp_path / "params.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [("train: [unclosed", "not valid YAML at line 1"), ("- a list", "expected a mapping of sections, found list")],
)
def test_broken_file(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError, match=message):
        load_train_params(path)
