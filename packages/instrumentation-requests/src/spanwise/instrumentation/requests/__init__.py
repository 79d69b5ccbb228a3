"""Spanwise instrumentation for ``requests``: CLIENT spans and trace context propagation."""

from ._instrumentor import RequestsInstrumentor

__all__ = ["RequestsInstrumentor"]
