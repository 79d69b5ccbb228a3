"""Spanwise OpenTelemetry instrumentation for Django."""

from ._instrumentor import DjangoInstrumentor
from ._middleware import TracingMiddleware

__all__ = ["DjangoInstrumentor", "TracingMiddleware"]
