"""The library of the MNIST pipeline, grouped by role: core, data, model, report; and apps, the commands that are
not stages (fetch, predict, serve)."""

import os

# Every stage and command imports this package before TensorFlow, so this is the one place where TensorFlow is
# configured and quieted. A value the user set wins.
#
# TensorFlow's C++ logs (absl) keep INFO and WARNING lines out at 2; errors show. 0 shows everything, unfiltered.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The same oneDNN kernels on every x86 CPU (TensorFlow's own default turns them on only on CPUs with AVX512-VNNI,
# AVX-VNNI or AMX); dvc.lock's numbers were computed with them on. This does not silence oneDNN's notice, it prints it.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from mnist_dvc.core import quiet  # noqa: E402 - after the variables above, which it reads

quiet.install()
