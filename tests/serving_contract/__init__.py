"""Helpers for the serving tests: run `python -m serving` in a subprocess and talk to it."""
