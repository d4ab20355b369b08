"""The network and its training: model families, layers, batches, augmentation, the fit loop, inference."""
