"""One structlog event rendered by JSONRenderer to a null sink, inside an open span."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "structlog_event"
CONTRIB = None  # opentelemetry-python-contrib has no structlog plugin

_token: Any = None


def make(variant: str) -> Callable[[], object]:
    global _token
    import structlog
    from opentelemetry import context, trace

    if variant == "contrib":
        raise RuntimeError("no contrib plugin")
    if variant not in ("bare", "spanwise"):
        raise ValueError(f"unknown variant {variant!r}")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.ReturnLoggerFactory(),  # the rendered line goes nowhere
        cache_logger_on_first_use=True,
    )
    if variant == "spanwise":
        from spanwise.instrumentation.structlog import StructlogInstrumentor

        StructlogInstrumentor().instrument()
    # One span stays current for the whole run: the cost timed is the event's, not the span's.
    span = trace.get_tracer("bench.structlog").start_span("request")
    _token = context.attach(trace.set_span_in_context(span))
    log = structlog.get_logger("bench")
    for _ in range(200):
        log.info("order placed", order_id=42)
    return lambda: log.info("order placed", order_id=42)


def teardown() -> None:
    global _token
    if _token is not None:
        from opentelemetry import context

        context.detach(_token)
        _token = None
