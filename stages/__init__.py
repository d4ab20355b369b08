"""The MNIST pipeline's stages (prepare, train, evaluate, visualize) and the modules they share."""

import os

# Keep TensorFlow's start-up chatter (INFO and WARNING lines from C++) out of the
# logs; set before any stage imports TensorFlow. Errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN is TensorFlow's default on CPU; saying so explicitly silences its notice.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
