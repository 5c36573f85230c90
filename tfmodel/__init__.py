"""The model rules that the page work (`pagework/`), training and the TF Serving stand-in share:
how a model folder's versions are named, which signature makes each output mode, how bfloat16
mixed precision is turned on, and how TensorFlow is started.

Kept apart so that production code never imports the development stand-in (`serving/`) and
training never imports the service or the page work. Nothing here imports TensorFlow at import
time.
"""
