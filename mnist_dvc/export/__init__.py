"""The trained classifier beyond Keras: exported as a SavedModel, ONNX and LiteRT, each checked with its own runtime
against the classifier, and described in a model card written from the run's own records."""
