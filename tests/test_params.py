import pytest
import yaml

from stages.errors import ParamsError
from stages.params import CNN_DEFAULTS, load_prepare_params, load_train_params, load_visualize_params
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
    assert train.model == "mlp"
    assert (train.schedule, train.warmup_epochs, train.weight_decay, train.label_smoothing) == ("constant", 0, 0, 0)
    assert not train.augment.enabled
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
        ("train", "optimizer", "adamax", r"train.optimizer = 'adamax'; expected one of: adam, adamw, sgd, rmsprop"),
        ("train", "model", "resnet", r"train.model = 'resnet'; expected one of: mlp, cnn"),
        ("train", "schedule", "step", r"train.schedule = 'step'; expected one of: constant, cosine"),
        ("train", "warmup_epochs", -1, r"train.warmup_epochs = -1; expected an integer >= 0"),
        ("train", "weight_decay", 1, r"train.weight_decay = 1; expected a number >= 0 and < 1"),
        ("train", "label_smoothing", -0.1, r"train.label_smoothing = -0.1; expected a number >= 0 and < 1"),
        ("train", "label_smoothing", 1, r"train.label_smoothing = 1; expected a number >= 0 and < 1"),
        ("train", "cnn", [32], r"section 'train.cnn' is missing or not a mapping \(found \[32\]\)"),
        ("train", "augment", None, r"section 'train.augment' is missing or not a mapping \(found nothing\)"),
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


@pytest.mark.parametrize(
    ("subsection", "key", "value", "message"),
    [
        ("cnn", "filters", [], r"train.cnn.filters = \[\]; expected a non-empty list of integers >= 1"),
        ("cnn", "filters", [32, 0], r"train.cnn.filters = \[32, 0\]"),
        ("cnn", "kernel_size", 0, r"train.cnn.kernel_size = 0; expected an integer >= 1 and <= 9"),
        ("cnn", "kernel_size", 11, r"train.cnn.kernel_size = 11; expected an integer >= 1 and <= 9"),
        ("cnn", "pooling", "min", r"train.cnn.pooling = 'min'; expected one of: max, average, none"),
        ("cnn", "batch_norm", "yes", r"train.cnn.batch_norm = 'yes'; expected true or false"),
        ("cnn", "batch_norm", 1, r"train.cnn.batch_norm = 1; expected true or false"),
        ("augment", "shift", -1, r"train.augment.shift = -1; expected a number >= 0 and <= 10"),
        ("augment", "shift", 11, r"train.augment.shift = 11; expected a number >= 0 and <= 10"),
        ("augment", "rotation", 90, r"train.augment.rotation = 90; expected a number >= 0 and <= 45"),
        ("augment", "zoom", 0.6, r"train.augment.zoom = 0.6; expected a number >= 0 and <= 0.5"),
        ("augment", "zoom", "a bit", r"train.augment.zoom = 'a bit'; expected a number"),
    ],
)
def test_bad_values_in_subsections_name_the_full_key(tmp_path, params, subsection, key, value, message):
    params["train"]["model"] = "cnn"
    params["train"][subsection][key] = value
    with pytest.raises(ParamsError, match=message):
        load_train_params(write(tmp_path, params))


def test_unknown_key_in_a_subsection(tmp_path, params):
    params["train"]["augment"]["flip"] = True
    with pytest.raises(ParamsError, match="unknown key train.augment.flip; expected one of: rotation, shift, zoom"):
        load_train_params(write(tmp_path, params))


def test_the_default_file_holds_the_cnn_defaults_and_switches_to_a_cnn_with_one_change(tmp_path, params):
    """`dvc exp run -S train.model=cnn` must work straight from params.yaml."""
    assert params["train"]["cnn"] == CNN_DEFAULTS
    params["train"]["model"] = "cnn"
    train = load_train_params(write(tmp_path, params))
    assert (train.model, train.cnn.filters, train.cnn.kernel_size, train.cnn.pooling) == ("cnn", (32, 64), 3, "max")
    params["train"]["cnn"]["filters"] = [8]
    assert load_train_params(write(tmp_path, params)).cnn.filters == (8,)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cnn": {**CNN_DEFAULTS, "filters": [16]}}, r"train.cnn.filters = \[16\] does not apply to model 'mlp'; "),
        ({"cnn": {**CNN_DEFAULTS, "batch_norm": True}}, r"train.cnn.batch_norm = True does not apply to model 'mlp'"),
        (
            {"weight_decay": 0.01},
            r"train.weight_decay = 0.01 does not apply to optimizer 'adam'; set it to 0 or use adamw",
        ),
        ({"warmup_epochs": 2}, r"train.warmup_epochs = 2 does not apply to schedule 'constant'; set it to 0 or use co"),
        (
            {"schedule": "cosine", "warmup_epochs": 50},
            r"train.warmup_epochs = 50; expected fewer than train.epochs \(50\)",
        ),
    ],
)
def test_params_that_would_have_no_effect_are_rejected(tmp_path, params, changes, message):
    params["train"].update(changes)
    with pytest.raises(ParamsError, match=message):
        load_train_params(write(tmp_path, params))


def test_recipes_in_the_combinations_they_apply_to(tmp_path, params):
    params["train"].update(
        model="cnn",
        cnn={"filters": [8, 16], "kernel_size": 5, "pooling": "average", "batch_norm": True},
        optimizer="adamw",
        weight_decay=0.01,
        schedule="cosine",
        warmup_epochs=2,
        label_smoothing=0.1,
        augment={"shift": 2, "rotation": 10, "zoom": 0.1},
    )
    train = load_train_params(write(tmp_path, params))
    assert (train.cnn.kernel_size, train.cnn.pooling, train.cnn.batch_norm) == (5, "average", True)
    assert (train.optimizer, train.weight_decay, train.schedule, train.warmup_epochs) == ("adamw", 0.01, "cosine", 2)
    assert train.label_smoothing == 0.1
    assert (train.augment.shift, train.augment.rotation, train.augment.zoom) == (2.0, 10.0, 0.1)
    assert train.augment.enabled


def test_missing_key(tmp_path, params):
    del params["train"]["epochs"]
    with pytest.raises(ParamsError, match="train.epochs is missing; expected an integer >= 1"):
        load_train_params(write(tmp_path, params))


def test_unknown_key_lists_the_known_ones(tmp_path, params):
    params["train"]["epoch"] = 3
    with pytest.raises(
        ParamsError, match="unknown key train.epoch; expected one of: augment, batch_size, cnn, dropout"
    ):
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
