"""One logging.info through a StreamHandler (ids in the format) to a null stream, in a span."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

NAME = "logging_record"
CONTRIB = "opentelemetry.instrumentation.logging"

FORMAT = "%(levelname)s %(name)s [trace_id=%(otelTraceID)s span_id=%(otelSpanID)s] %(message)s"
DEFAULTS = {"otelTraceID": "0", "otelSpanID": "0"}  # so the bare variant formats too

_token: Any = None


class _NullStream:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def make(variant: str) -> Callable[[], object]:
    global _token
    from opentelemetry import context, trace

    if variant == "contrib":
        from opentelemetry.instrumentation.logging import LoggingInstrumentor as Contrib

        # Correlation only, like the spanwise variant: no exporting handler on the root logger.
        Contrib().instrument(enable_log_auto_instrumentation=False)
    elif variant == "spanwise":
        from spanwise.instrumentation.logging import LoggingInstrumentor

        LoggingInstrumentor().instrument()
    elif variant != "bare":
        raise ValueError(f"unknown variant {variant!r}")
    handler = logging.StreamHandler(_NullStream())  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter(FORMAT, defaults=DEFAULTS))
    logger = logging.getLogger("bench.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    # One span stays current for the whole run: the cost timed is the record's, not the span's.
    span = trace.get_tracer("bench.logging").start_span("request")
    _token = context.attach(trace.set_span_in_context(span))
    for _ in range(200):
        logger.info("order %d placed", 42)
    return lambda: logger.info("order %d placed", 42)


def teardown() -> None:
    global _token
    if _token is not None:
        from opentelemetry import context

        context.detach(_token)
        _token = None
