"""Spanwise instrumentation for FastAPI and Starlette (ASGI)."""

from ._instrumentor import FastAPIInstrumentor

__all__ = ["FastAPIInstrumentor"]
