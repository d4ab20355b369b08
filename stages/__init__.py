"""The MNIST pipeline's stages (prepare, train, evaluate, visualize) and the modules they share."""

import os

# Every stage runs as `python -m stages.<name>`, so this runs before any stage imports TensorFlow: the one place
# where TensorFlow is configured and quieted. A value the user set wins.
#
# TensorFlow's C++ logs (absl) keep INFO and WARNING lines out at 2; errors show. 0 shows everything, unfiltered.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The same oneDNN kernels on every x86 CPU (TensorFlow's own default turns them on only on CPUs with AVX512-VNNI,
# AVX-VNNI or AMX); dvc.lock's numbers were computed with them on. This does not silence oneDNN's notice, it prints it.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from stages import quiet  # noqa: E402 - after the variables above, which it reads

quiet.install()
