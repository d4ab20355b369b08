"""params.yaml read strictly: each stage's sections checked against their schemas, one line per problem."""

import re

import pytest
import yaml

from mnist_dvc.core.errors import ParamsError
from mnist_dvc.core.params import compose, read_all_params, read_params
from stages.check import Params as CheckStage
from stages.prepare import Params as PrepareStage
from stages.train import Params as TrainStage
from stages.visualize import Params as VisualizeStage
from tests.helpers.project import PROJECT_ROOT


@pytest.fixture
def params():
    return yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


def write(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def set_key(params, key, value):
    *parents, leaf = key.split(".")
    for parent in parents:
        params = params[parent]
    params[leaf] = value


def fails(path, schema, message):
    with pytest.raises(ParamsError, match=re.escape(message)):
        read_params(path, schema)


def test_params_yaml_is_what_dvc_exp_run_composes_from_conf(tmp_path):
    """With Hydra on (.dvc/config), every `dvc exp run` writes params.yaml from conf/: the committed file must be
    that composition, or the first experiment would change params nobody asked to change."""
    compose(tmp_path / "params.yaml", root=PROJECT_ROOT)
    assert (tmp_path / "params.yaml").read_text() == (PROJECT_ROOT / "params.yaml").read_text()


def test_defaults_are_the_reference_model():
    train = read_params(PROJECT_ROOT / "params.yaml", TrainStage).train
    assert train.model.family == "mlp" and train.model.hidden_units == [256, 128]
    assert (train.model.hidden_activation, train.model.output_activation, train.model.dropout) == (
        "sigmoid",
        "sigmoid",
        0,
    )
    assert (train.optimizer, train.learning_rate, train.epochs, train.batch_size) == ("adam", 0.001, 50, 2000)
    assert (train.schedule, train.warmup_epochs, train.weight_decay, train.label_smoothing) == ("constant", 0, 0, 0)
    assert not train.augment.enabled
    prepare = read_params(PROJECT_ROOT / "params.yaml", PrepareStage)
    assert (prepare.prepare.dataset, prepare.prepare.val_fraction, prepare.seed) == ("mnist", 0.2, 42)
    assert read_params(PROJECT_ROOT / "params.yaml", VisualizeStage).visualize.density_class == 7


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train.epochs", "fifty", "train.epochs = 'fifty'; expected an integer >= 1"),
        ("train.epochs", 0, "train.epochs = 0; expected an integer >= 1"),
        ("train.epochs", 2.5, "train.epochs = 2.5; expected an integer >= 1"),
        ("train.epochs", True, "train.epochs = True; expected an integer >= 1"),
        ("train.batch_size", -5, "train.batch_size = -5; expected an integer >= 1"),
        ("train.learning_rate", 0, "train.learning_rate = 0; expected a number > 0"),
        ("train.learning_rate", float("nan"), "train.learning_rate = nan; expected a number > 0"),
        ("train.learning_rate", float("inf"), "train.learning_rate = inf; expected a number > 0"),
        ("train.learning_rate", "0.001", "train.learning_rate = '0.001'; expected a number > 0"),
        ("train.momentum", 1.5, "train.momentum = 1.5; expected a number >= 0 and < 1"),
        ("train.label_smoothing", 1, "train.label_smoothing = 1; expected a number >= 0 and < 1"),
        ("train.optimizer", "adamax", "train.optimizer = 'adamax'; expected one of: adam, adamw, sgd, rmsprop"),
        ("train.schedule", "step", "train.schedule = 'step'; expected one of: constant, cosine"),
        ("train.batch_in_halves", "yes", "train.batch_in_halves = 'yes'; expected true or false"),
        ("train.early_stopping_patience", -1, "train.early_stopping_patience = -1; expected an integer >= 0"),
        ("train.model.dropout", 1, "train.model.dropout = 1; expected a number >= 0 and < 1"),
        ("train.model.hidden_units", [], "train.model.hidden_units = []; expected a non-empty list of integers >= 1"),
        ("train.model.hidden_units", 256, "train.model.hidden_units = 256; expected a non-empty list of integers"),
        ("train.model.hidden_units", [256, 0], "train.model.hidden_units[1] = 0; expected an integer >= 1"),
        ("train.model.hidden_activation", "sigmoidd", "hidden_activation = 'sigmoidd'; expected one of: sigmoid, relu"),
        ("train.model.output_activation", "relu", "output_activation = 'relu'; expected one of: sigmoid, softmax"),
        ("train.model.family", "resnet", "train.model.family = 'resnet'; expected one of: cnn, mlp"),
        ("train.augment.shift", 11, "train.augment.shift = 11; expected a number >= 0 and <= 10"),
        ("train.augment.zoom", "a bit", "train.augment.zoom = 'a bit'; expected a number >= 0 and <= 0.5"),
        ("train.augment", None, "train.augment = None; expected a mapping of: shift, rotation, zoom, noise"),
        ("seed", -1, "seed = -1; expected an integer >= 0 and <= 4294967295"),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(tmp_path, params, key, value, message):
    set_key(params, key, value)
    fails(write(tmp_path, params), TrainStage, message)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("prepare.val_fraction", 0, "prepare.val_fraction = 0; expected a number > 0 and < 1"),
        ("prepare.val_fraction", 1, "prepare.val_fraction = 1; expected a number > 0 and < 1"),
        ("prepare.dataset", "", "prepare.dataset = ''; expected a non-empty string"),
    ],
)
def test_bad_prepare_values(tmp_path, params, key, value, message):
    set_key(params, key, value)
    fails(write(tmp_path, params), PrepareStage, message)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train.model.filters", [], "train.model.filters = []; expected a non-empty list of integers >= 1"),
        ("train.model.kernel_size", 11, "train.model.kernel_size = 11; expected an integer >= 1 and <= 9"),
        ("train.model.pooling", "min", "train.model.pooling = 'min'; expected one of: max, average, none"),
        ("train.model.batch_norm", "yes", "train.model.batch_norm = 'yes'; expected true or false"),
        ("train.model.batch_norm", 1, "train.model.batch_norm = 1; expected true or false"),
    ],
)
def test_a_family_checks_its_own_params(tmp_path, params, key, value, message):
    compose(tmp_path / "params.yaml", ["model=cnn"], PROJECT_ROOT)
    cnn = yaml.safe_load((tmp_path / "params.yaml").read_text())
    set_key(cnn, key, value)
    fails(write(tmp_path, cnn), TrainStage, message)


def test_pooling_first_without_pooling_is_refused(tmp_path):
    compose(
        tmp_path / "params.yaml", ["model=cnn", "train.model.pool_first=true", "train.model.pooling=none"], PROJECT_ROOT
    )
    message = "train.model.pool_first = true does not apply to pooling 'none'; set it to false or pool"
    fails(tmp_path / "params.yaml", TrainStage, message)


def test_a_family_switch_brings_that_familys_params_and_no_others(tmp_path):
    compose(tmp_path / "params.yaml", ["model=cnn", "train.model.filters=[8]"], PROJECT_ROOT)
    model = read_params(tmp_path / "params.yaml", TrainStage).train.model
    assert (model.family, model.filters, model.kernel_size, model.pooling) == ("cnn", [8], 3, "max")


def test_a_param_of_another_family_is_unknown(tmp_path, params):
    params["train"]["model"]["filters"] = [16]
    fails(
        write(tmp_path, params),
        TrainStage,
        "unknown key train.model.filters; it is a param of family cnn, not of the one chosen",
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("train.epoch", "unknown key train.epoch; did you mean train.epochs?"),
        ("train.augment.flip", "unknown key train.augment.flip; expected one of: noise, rotation, shift, zoom"),
        ("train.hidden_units", "unknown key train.hidden_units; did you mean train.model.hidden_units?"),
        ("train.model.hiden_units", "unknown key train.model.hiden_units; did you mean train.model.hidden_units?"),
    ],
)
def test_unknown_keys_are_refused_with_the_nearest_known_one(tmp_path, params, key, message):
    set_key(params, key, 3)
    fails(write(tmp_path, params), TrainStage, message)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"momentum": 0.9}, "train.momentum = 0.9 does not apply to optimizer 'adam'; set it to 0 or use one of: sgd"),
        ({"weight_decay": 0.01}, "train.weight_decay = 0.01 does not apply to optimizer 'adam'; set it to 0 or use"),
        ({"warmup_epochs": 2}, "train.warmup_epochs = 2 does not apply to schedule 'constant'; set it to 0 or use co"),
        (
            {"schedule": "cosine", "warmup_epochs": 50},
            "train.warmup_epochs = 50; expected fewer than train.epochs (50)",
        ),
        (
            {"batch_in_halves": True, "batch_size": 1},
            "train.batch_in_halves = true needs train.batch_size of at least 2, to halve; got 1",
        ),
    ],
)
def test_params_that_would_have_no_effect_are_refused(tmp_path, params, changes, message):
    params["train"].update(changes)
    fails(write(tmp_path, params), TrainStage, message)


def test_every_recipe_step_in_the_combinations_it_applies_to(tmp_path):
    compose(tmp_path / "params.yaml", ["recipe=cnn-deeper"], PROJECT_ROOT)
    train = read_params(tmp_path / "params.yaml", TrainStage).train
    assert (train.model.filters, train.model.batch_norm, train.optimizer, train.schedule) == (
        [32, 64, 128],
        True,
        "adamw",
        "cosine",
    )
    assert train.augment.enabled and train.label_smoothing == 0.1


@pytest.mark.parametrize("spelling", ["1e-05", "1E-5", "1.0e-05", ".00001", "+1e-5"])
def test_every_yaml_spelling_of_a_float_is_a_number(tmp_path, params, spelling):
    """DVC writes -S train.learning_rate=0.00001 as 1e-05, which YAML 1.1 reads as a string."""
    text = yaml.safe_dump(params, sort_keys=False).replace("learning_rate: 0.001", f"learning_rate: {spelling}")
    (tmp_path / "params.yaml").write_text(text)
    assert read_params(tmp_path / "params.yaml", TrainStage).train.learning_rate == 1e-05


def test_missing_key(tmp_path, params):
    del params["train"]["epochs"]
    fails(write(tmp_path, params), TrainStage, "train.epochs is missing; expected an integer >= 1")


def test_missing_section(tmp_path, params):
    del params["train"]
    fails(write(tmp_path, params), TrainStage, "train is missing; expected a mapping of: model, optimizer")


def test_missing_file(tmp_path):
    fails(tmp_path / "params.yaml", TrainStage, "params.yaml: file not found")


@pytest.mark.parametrize(
    ("text", "message"),
    [("train: [unclosed", "not valid YAML at line 1"), ("- a list", "expected a mapping of sections, found list")],
)
def test_broken_file(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    fails(path, TrainStage, message)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda params: params.update(trian=params["train"]), "params.yaml: unknown key trian; did you mean train?"),
        (lambda params: params.update(epochs=3), "params.yaml: unknown key epochs; did you mean train.epochs?"),
        (lambda params: params.update(owner=1), "unknown key owner; expected one of: prepare, seed, train, visualize"),
        (lambda params: params.pop("visualize"), "params.yaml: visualize is missing; expected a mapping of: "),
    ],
    ids=["misspelt-section", "key-out-of-its-section", "unknown", "missing-section"],
)
def test_all_of_params_yaml_is_checked_at_once_keys_at_the_top_included(tmp_path, params, edit, message):
    """What no stage reads alone: a key at the top of the file that is no section."""
    edit(params)
    path = write(tmp_path, params)
    with pytest.raises(ParamsError, match=re.escape(message)):
        read_all_params(path, CheckStage)
    read_params(path, TrainStage)  # the train stage reads its own sections, and is not concerned


def test_the_committed_params_pass_the_whole_check(params, tmp_path):
    checked = read_all_params(write(tmp_path, params), CheckStage)
    assert checked.train == read_params(write(tmp_path, params), TrainStage).train


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1: 2\n", "params.yaml: key 1 is not a name; expected a string key"),
        ("train:\n  null: 3\n", "params.yaml: key None in train is not a name; expected a string key"),
        ("train:\n  model: [{true: 1}]\n", "params.yaml: key True in train.model is not a name; expected a string"),
    ],
)
def test_keys_that_are_not_names_are_refused(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError, match=re.escape(message)):
        read_all_params(path, CheckStage)
