"""Spanwise instrumentation for Flask: SERVER spans named after the route template."""

from ._instrumentor import FlaskInstrumentor

__all__ = ["FlaskInstrumentor"]
