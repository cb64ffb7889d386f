"""ecabinet: a paperless meeting room (e-Cabinet) server."""

__version__ = "0.1.0"
