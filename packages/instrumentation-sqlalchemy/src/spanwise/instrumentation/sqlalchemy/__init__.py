"""OpenTelemetry instrumentation for SQLAlchemy, built on spanwise-core."""

from ._instrumentor import SQLAlchemyInstrumentor

__all__ = ["SQLAlchemyInstrumentor"]
