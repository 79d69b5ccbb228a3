"""OpenTelemetry instrumentation for redis-py, built on spanwise-core."""

from ._instrumentor import RedisInstrumentor

__all__ = ["RedisInstrumentor"]
