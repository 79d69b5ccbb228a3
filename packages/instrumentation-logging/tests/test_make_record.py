"""The plain function put in place of Logger.makeRecord: same calls, exact undo."""

from __future__ import annotations

import inspect
import logging
from types import FunctionType
from typing import Any

import pytest
import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.logging import LoggingInstrumentor

tracer = trace.get_tracer("tests")
ORIGINAL = logging.Logger.__dict__["makeRecord"]


def make(logger: logging.Logger, **kwargs: Any) -> logging.LogRecord:
    return logger.makeRecord("n", logging.INFO, "f", 1, "m", (), None, **kwargs)


class TestPlainFunction:
    def test_looks_like_the_original(self, instrumentor: LoggingInstrumentor) -> None:
        """Name, docstring, signature and __wrapped__ are the original's."""
        instrumentor.instrument()
        patched = logging.Logger.__dict__["makeRecord"]
        assert (ORIGINAL.__name__, ORIGINAL.__doc__, ORIGINAL, True) == (
            patched.__name__,
            patched.__doc__,
            patched.__wrapped__,
            inspect.signature(patched) == inspect.signature(ORIGINAL),
        )

    def test_keywords_and_extra(
        self, telemetry: CapturedTelemetry, instrumentor: LoggingInstrumentor
    ) -> None:
        """Keyword arguments pass through; extra= fields are kept, the others set."""
        instrumentor.instrument()
        with tracer.start_as_current_span("s") as span:
            record = make(logging.getLogger("kw"), extra={"otelSpanID": "mine"}, sinfo="stack")
        assert (f"{span.get_span_context().trace_id:032x}", "mine", "stack") == (
            record.otelTraceID,
            record.otelSpanID,
            record.stack_info,
        )

    def test_failure_is_reported_and_the_record_returned(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A record whose __dict__ cannot be read is returned as made."""
        instrumentor.instrument()

        class Odd:
            __slots__ = ()

        monkeypatch.setattr(logging, "_logRecordFactory", lambda *a: Odd())
        assert isinstance(make(logging.getLogger("odd")), Odd)

    def test_replaced_runtime_context_is_followed(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A runtime context put in place after instrument() is the one read."""
        instrumentor.instrument()
        monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", ContextVarsRuntimeContext())
        with tracer.start_as_current_span("s") as span:
            record = make(logging.getLogger("rt"))
        assert f"{span.get_span_context().span_id:016x}" == record.otelSpanID


class TestUndo:
    def test_wrapped_on_top_passes_through(self, instrumentor: LoggingInstrumentor) -> None:
        """Someone wrapped ours: it stays in their chain, adding nothing once uninstrumented."""
        instrumentor.instrument()
        ours = logging.Logger.__dict__["makeRecord"]
        wrapt.wrap_function_wrapper(logging, "Logger.makeRecord", lambda w, i, a, k: w(*a, **k))
        try:
            instrumentor.uninstrument()
            assert ours is logging.Logger.__dict__["makeRecord"].__wrapped__
            assert not hasattr(make(logging.getLogger("top")), "otelTraceID")
        finally:
            logging.Logger.makeRecord = ORIGINAL  # type: ignore[method-assign]

    def test_someone_elses_wrapper_underneath(
        self, telemetry: CapturedTelemetry, instrumentor: LoggingInstrumentor
    ) -> None:
        """Not a plain function there: wrapped through the patcher, restored exactly."""
        wrapt.wrap_function_wrapper(logging, "Logger.makeRecord", lambda w, i, a, k: w(*a, **k))
        theirs = logging.Logger.__dict__["makeRecord"]
        try:
            instrumentor.instrument()
            # wrapt proxies pass isinstance(..., FunctionType): the type tells them apart.
            placed = logging.Logger.__dict__["makeRecord"]
            assert (False, theirs) == (type(placed) is FunctionType, placed.__wrapped__)
            assert "spanwise-tests" == make(logging.getLogger("under")).otelServiceName
            instrumentor.uninstrument()
            assert theirs is logging.Logger.__dict__["makeRecord"]
        finally:
            logging.Logger.makeRecord = ORIGINAL  # type: ignore[method-assign]

    def test_instrument_again(
        self, telemetry: CapturedTelemetry, instrumentor: LoggingInstrumentor
    ) -> None:
        """instrument, uninstrument, instrument: fields again, the original at the end."""
        instrumentor.instrument()
        instrumentor.uninstrument()
        instrumentor.instrument()
        assert "0" == make(logging.getLogger("again")).otelTraceID
        instrumentor.uninstrument()
        assert ORIGINAL is logging.Logger.__dict__["makeRecord"]
