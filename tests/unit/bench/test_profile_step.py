import pytest

from bench.profile_step import composed_params, part_of
from mnist_dvc.core.errors import ParamsError

PREFIX = "while/body/_1/while/cond/then/_191/while/cond/StatefulPartitionedCall/"


@pytest.mark.parametrize(
    ("op_name", "part"),
    [
        (PREFIX + "cnn_1/conv2d_1/Relu", "conv2d"),
        (PREFIX + "gradient_tape/cnn_1/conv2d_1_2/convolution/Conv2DBackpropFilter", "conv2d"),
        (PREFIX + "cnn_1/fused_batch_normalization_1/FusedBatchNormV3", "fused_batch_normalization"),
        (PREFIX + "gradient_tape/cnn_1/max_pooling2d_1_2/MaxPool2d/MaxPoolGrad", "max_pooling2d"),
        (PREFIX + "gradient_tape/cnn_1/dense_1/MatMul/MatMul_1", "dense"),
        (PREFIX + "adamw/AssignSubVariableOp_4", "adamw"),
        (PREFIX + "compile_loss/sparse_categorical_crossentropy/LogSoftmax", "compile_loss"),
        (PREFIX + "cnn_1/Cast", "step"),
        ("while/body/_1/while/cond_1/then/_282/while/cond_1/IteratorGetNextAsOptional", "step"),
        ("AssignVariableOp_2", "step"),
    ],
)
def test_ops_are_told_apart_by_the_part_of_the_step_they_belong_to(op_name, part):
    assert part_of(op_name, "cnn") == part


def test_params_are_composed_from_a_recipe_as_dvc_exp_run_composes_them():
    params = composed_params("cnn-batchnorm", ["train.model.filters=[8]"])
    assert params.train.model.family == "cnn" and params.train.model.batch_norm
    assert params.train.model.filters == [8] and params.train.epochs == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.epoch=8"], "train.epoch"),
        (["train.model.filters=[0]"], "train.model.filters[0] = 0; expected an integer >= 1"),
    ],
)
def test_bad_overrides_name_the_key(overrides, message):
    with pytest.raises(ParamsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        composed_params("cnn", overrides)
