import pytest

from bench.profile_step import part_of, with_overrides

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


def test_overrides_set_dotted_keys_as_yaml_values_and_refuse_unknown_keys():
    params = {"train": {"model": "mlp", "cnn": {"filters": [32, 64]}, "epochs": 50}}
    assert with_overrides(params, ["train.model=cnn", "train.cnn.filters=[16,32]", "train.epochs=8"]) == {
        "train": {"model": "cnn", "cnn": {"filters": [16, 32]}, "epochs": 8}
    }
    for bad in ("train.modle=cnn", "train.model", "train.model.kind=cnn", "seed=1"):
        with pytest.raises(SystemExit, match="expected key=value with a key of params.yaml"):
            with_overrides(params, [bad])
