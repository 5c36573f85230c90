"""The document-cleaning HTTP service."""

from api.app import create_app

__all__ = ["create_app"]
