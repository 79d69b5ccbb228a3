"""Trace context fields on each ``LogRecord``, set where ``Logger.makeRecord`` makes it."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from opentelemetry import context as _context_module
from opentelemetry import trace
from opentelemetry.context import get_current
from opentelemetry.trace import Span
from opentelemetry.trace.propagation import _SPAN_KEY

from spanwise.core import Patcher, Wrapper
from spanwise.core.context import runtime_variable

__all__ = ["RecordFields"]

_NONE = ("0", "0", False)


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
        self._last: tuple[Any, tuple[str, str, bool]] = (None, _NONE)

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
        return self._ids_of(get_current().get(_SPAN_KEY))

    def _ids_of(self, span: Any) -> tuple[str, str, bool]:
        if span is None:
            return _NONE
        last = self._last
        if span is last[0]:
            return last[1]
        if not isinstance(span, Span):
            return _NONE
        ctx = span.get_span_context()
        if not ctx.is_valid:
            return _NONE
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
        """A wrapt-style wrapper for ``Logger.makeRecord``: the record is made by the original,
        exactly once, then given the fields; a failure here is reported and the record
        returned. (:meth:`make_record` is the cheaper plain-function form the plugin uses.)"""
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

    def make_record(self, original: Any, patcher: Patcher) -> Callable[..., Any]:
        """A plain function to put in place of *original* (``Logger.__dict__["makeRecord"]``):
        it calls the original exactly once with the same arguments, gives the record the
        fields while ``patcher.on``, reports (never raises) a failure, returns the record.

        A plain function binds like the original (no wrapper object per call);
        ``Patcher.replace`` calls this only for a plain function and gives the result the
        original's name, docstring and ``__wrapped__``. Anything else there (someone else's
        wrapper) is wrapped with :meth:`wrapper` through the patcher instead.
        """
        guard = patcher.guard
        service_name = self.service_name
        ids_of = self._ids_of
        found = runtime_variable()
        runtime, read = (None, None) if found is None else (found[0], found[1].get)
        context_module = _context_module

        def apply(record: Any) -> None:
            values = record.__dict__
            span = get_current().get(_SPAN_KEY)
            last = self._last  # one read: replaced whole, never half-updated
            found = last[1] if span is last[0] and span is not None else ids_of(span)
            if (
                "otelTraceID" not in values
                and "otelSpanID" not in values
                and "otelTraceSampled" not in values
                and "otelServiceName" not in values
            ):
                values["otelTraceID"], values["otelSpanID"], values["otelTraceSampled"] = found
                name = self._service
                values["otelServiceName"] = service_name() if name is None else name
                return
            values.setdefault("otelTraceID", found[0])
            values.setdefault("otelSpanID", found[1])
            values.setdefault("otelTraceSampled", found[2])
            if "otelServiceName" not in values:
                values["otelServiceName"] = service_name()

        if read is None or _parameters(original) != _STDLIB_PARAMETERS:

            def make_record(logger: Any, *args: Any, **kwargs: Any) -> Any:
                record = original(logger, *args, **kwargs)
                if patcher.on:
                    try:
                        apply(record)
                    except Exception as exc:  # noqa: BLE001 - logging must never break the app
                        guard.report("makeRecord", exc)
                return record

            return make_record

        # The stdlib's signature spelled out (no argument tuple or dict built per call) and
        # apply() inlined, with the current context read from the runtime's context variable
        # (what get_current() ends in) while that runtime is still the one in place.
        def fast_make_record(
            logger: Any,
            name: Any,
            level: Any,
            fn: Any,
            lno: Any,
            msg: Any,
            args: Any,
            exc_info: Any,
            func: Any = None,
            extra: Any = None,
            sinfo: Any = None,
        ) -> Any:
            record = original(logger, name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)
            if not patcher.on:
                return record
            try:
                values = record.__dict__
                ctx = read() if context_module._RUNTIME_CONTEXT is runtime else get_current()
                span = ctx.get(_SPAN_KEY)
                last = self._last  # one read: replaced whole, never half-updated
                found = last[1] if span is last[0] and span is not None else ids_of(span)
                if (
                    "otelTraceID" not in values
                    and "otelSpanID" not in values
                    and "otelTraceSampled" not in values
                    and "otelServiceName" not in values
                ):
                    values["otelTraceID"], values["otelSpanID"], values["otelTraceSampled"] = found
                    service = self._service
                    values["otelServiceName"] = service_name() if service is None else service
                else:
                    apply(record)
            except Exception as exc:  # noqa: BLE001 - logging must never break the app
                guard.report("makeRecord", exc)
            return record

        return fast_make_record


_STDLIB_PARAMETERS = (
    ("self", None),
    ("name", None),
    ("level", None),
    ("fn", None),
    ("lno", None),
    ("msg", None),
    ("args", None),
    ("exc_info", None),
    ("func", None),
    ("extra", None),
    ("sinfo", None),
)


def _parameters(function: Any) -> tuple[tuple[str, Any], ...] | None:
    """*function*'s parameters as (name, default), only if all are plain positional-or-keyword
    ones; None otherwise."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    out = []
    for p in parameters:
        if p.kind is not p.POSITIONAL_OR_KEYWORD:
            return None
        out.append((p.name, None if p.default is p.empty else p.default))
    return tuple(out)
