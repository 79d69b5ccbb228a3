"""Trace context fields on each ``LogRecord``, set where ``Logger.makeRecord`` makes it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import get_current
from opentelemetry.trace import Span
from opentelemetry.trace.propagation import _SPAN_KEY

from spanwise.core import Patcher, Wrapper

__all__ = ["RecordFields"]


class RecordFields:
    """Sets ``otelTraceID``, ``otelSpanID``, ``otelTraceSampled`` and ``otelServiceName``
    on a record, from the current span and the tracer provider's ``service.name``.

    A field the record already has (from ``extra=``) is kept.
    """

    __slots__ = ("_last", "_service", "tracer_provider")

    def __init__(self, tracer_provider: Any = None) -> None:
        self.tracer_provider = tracer_provider
        self._service: str | None = None
        # The last span seen and its (trace id, span id, sampled); replaced whole.
        self._last: tuple[Any, tuple[str, str, bool]] = (None, ("0", "0", False))

    def service_name(self) -> str:
        """``service.name`` of the tracer provider's resource ("" until an SDK is set)."""
        name = self._service
        if name is None:
            provider = self.tracer_provider or trace.get_tracer_provider()
            resource = getattr(provider, "resource", None)
            if resource is None:
                return ""  # no SDK yet: look again next time
            value = resource.attributes.get("service.name", "")
            name = self._service = value if isinstance(value, str) else str(value)
        return name

    def ids(self) -> tuple[str, str, bool]:
        """(trace id, span id, sampled) of the current span; ("0", "0", False) outside one."""
        span = get_current().get(_SPAN_KEY)
        if span is None:
            return "0", "0", False
        last = self._last
        if span is last[0]:
            return last[1]
        if not isinstance(span, Span):
            return "0", "0", False
        ctx = span.get_span_context()
        if not ctx.is_valid:
            return "0", "0", False
        ids = (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", ctx.trace_flags.sampled)
        self._last = (span, ids)
        return ids

    def apply(self, record: logging.LogRecord) -> None:
        """Set the four fields on *record* (those it lacks)."""
        values = record.__dict__
        trace_id, span_id, sampled = self.ids()
        if (
            "otelTraceID" not in values
            and "otelSpanID" not in values
            and "otelTraceSampled" not in values
            and "otelServiceName" not in values
        ):
            values["otelTraceID"] = trace_id
            values["otelSpanID"] = span_id
            values["otelTraceSampled"] = sampled
            values["otelServiceName"] = self.service_name()
            return
        values.setdefault("otelTraceID", trace_id)
        values.setdefault("otelSpanID", span_id)
        values.setdefault("otelTraceSampled", sampled)
        if "otelServiceName" not in values:
            values["otelServiceName"] = self.service_name()

    def wrapper(self, patcher: Patcher) -> Wrapper:
        """A wrapper for ``Logger.makeRecord``: the record is made by the original, exactly
        once, then given the fields; a failure here is reported and the record returned."""
        apply = self.apply

        def make_record(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            record = wrapped(*args, **kwargs)
            if patcher.on:
                try:
                    apply(record)
                except Exception as exc:  # noqa: BLE001 - logging must never break the app
                    patcher.guard.report("makeRecord", exc)
            return record

        return make_record
