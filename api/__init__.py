"""The HTTP API for the portal: `create_app(runtime)` builds the ASGI app."""

from api.app import create_app

__all__ = ["create_app"]
