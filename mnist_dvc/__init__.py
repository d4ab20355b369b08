"""The library of the MNIST pipeline, grouped by role: core, data, model, report; and apps, the commands that are
not stages (fetch, predict, serve)."""

# Every stage and command imports this package before TensorFlow, so this is the one place where TensorFlow is
# configured (core/runtime.py: the same bytes on every machine) and quieted (core/quiet.py).
from mnist_dvc.core import quiet, runtime

runtime.configure()
quiet.install()
