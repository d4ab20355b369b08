from collections import Counter

import pytest

from bench.profile_step import Profile, Timings, composed_params, part_of, report
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


def test_the_report_gives_a_fit_s_parts_then_the_op_times_per_step():
    timings = Timings(steps=4, train_s=(1.5, 0.05), validation_s=(0.4, 0.01))
    profile = Profile(Counter({("dense", "MatMul"): 36_000_000_000, ("adam", "Sqrt"): 4_000_000_000}), 2e9, 1e9)
    lines = report("reference", [], timings, profile, top=1).splitlines()
    assert lines[:8] == [
        "reference: (defaults)",
        "wall time per step (epoch 2, not profiled): 12.5 ms, 4 steps an epoch",
        "wall time of the validation pass after it: 10.0 ms",
        "the first epoch beyond the second: 1.45 s in its steps, 0.39 s in validation",
        "op time per step on the step's threads (epoch 3, profiled): 10.0 ms",
        "the call for the next batch, per step: 0.50 ms",
        "the input pipeline's own ops per step: 0.25 ms",
        "",
    ]
    assert "| dense | 9.00 | 90.0% |" in lines and "| 1 others | 1.00 | 10.0% |" in lines
