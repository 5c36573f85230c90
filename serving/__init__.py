"""Local TensorFlow-Serving-compatible model server: a development and test stand-in.

Production runs the official `tensorflow/serving` image; this package serves the same gRPC and
REST surface (PredictionService, ModelService, `/v1/models/...`) from Python so that the API, its
tests and `make run-stack` work without `tensorflow_model_server`. See `python -m serving --help`.
"""
