"""Local TensorFlow-Serving-compatible model server: a development and test stand-in.

Production runs the official `tensorflow/serving` image; this package serves the same REST
surface (`/v1/models/...`) from Python so that the API, its tests and `make run-stack` work on a
machine without `tensorflow_model_server`. Run it with `python -m serving --help`.
"""
