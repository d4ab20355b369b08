"""The DVC stages of dvc.yaml, one module each: read params, load inputs, call the library, write outputs."""
