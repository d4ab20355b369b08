"""What every export of the classifier is, in the names that the writers, the runtimes and the model card share.

No TensorFlow here, so that the card stage, which reads files only, starts in a second.
"""

from mnist_dvc.core import paths

INPUT, OUTPUT = "images", "probabilities"
SIGNATURE = "serving_default"
LABELS = "labels.txt"  # the file of class names in the SavedModel and in the .tflite's archive
ONNX_LABELS_KEY = "labels"  # the ONNX metadata entry of the same names
# tf2onnx 1.17's own default, named here so that a new tf2onnx does not change the files unasked.
ONNX_OPSET = 15
# Each format's name, in metrics/export.json and the card, and where the export stage writes it.
FORMATS = {"saved_model": paths.SAVED_MODEL, "onnx": paths.ONNX_MODEL, "litert": paths.LITERT_MODEL}
TITLES = {"saved_model": "TensorFlow SavedModel", "onnx": "ONNX", "litert": "LiteRT"}
# The largest probability difference from the classifier that an export may show. Both converters multiply the
# pixels by 1/255 where the model divides by 255, which moves probabilities by about 1e-6; a broken export (NaN,
# weights left out) is off by far more.
TOLERANCE = 1e-4
