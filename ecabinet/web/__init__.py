"""The HTTP adapter: JSON API, Jinja2 pages, static files, health and metrics."""
