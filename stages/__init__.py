"""The MNIST pipeline's stages (prepare, train, evaluate, visualize) and the modules they share."""
