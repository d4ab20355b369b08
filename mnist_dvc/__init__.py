"""The library of the MNIST pipeline, grouped by role: core, data, model, report; and apps, the commands that are
not stages (fetch, predict, serve)."""

# Every stage and command imports this package before TensorFlow, so this is the one place where TensorFlow is
# configured (core/runtime.py: the same bytes on every machine), quieted (core/quiet.py) and loaded without what
# Keras would load for nothing (core/lean.py).
from mnist_dvc.core import lean, quiet, runtime

runtime.configure()
quiet.install()
lean.install()
