"""A ``logging.Handler`` that exports records as OpenTelemetry log records."""

from __future__ import annotations

import logging
import threading
from importlib import metadata
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    INVALID_SPAN,
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    set_span_in_context,
)

from spanwise.core import Guard, max_attribute_length
from spanwise.core.logs import (
    LogEmitter,
    log_attributes,
    log_value,
    severity_from_levelno,
    stdlib_export_started,
    stdlib_export_stopped,
)

from ._fields import FIELDS

__all__ = ["LogRecordHandler"]

SCOPE = "spanwise.instrumentation.logging"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RESERVED = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "taskName", *FIELDS}
)
# Records from these loggers are not exported: exporting them could loop.
_SKIPPED = ("opentelemetry",)
_TEXTS = {"WARNING": "WARN", "CRITICAL": "FATAL"}
_NO_SPAN = set_span_in_context(INVALID_SPAN)

_guard = Guard("logging")
_close_lock = threading.Lock()


def _version() -> str:
    try:
        return metadata.version("spanwise-instrumentation-logging")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed in the workspace
        return "0.0.0"


def _record_context(record: logging.LogRecord) -> Context | None:
    """The trace context the record was made in: ``None`` (the current one) when that is
    it, else one rebuilt from the record's ``otelTraceID``/``otelSpanID`` (a record handed
    to another thread, as by ``QueueHandler``)."""
    span_id = record.__dict__.get("otelSpanID")
    if not isinstance(span_id, str):
        return None  # not made while instrumented: the current context is all there is
    current = trace.get_current_span().get_span_context()
    if span_id == "0":
        return _NO_SPAN if current.is_valid else None
    if current.is_valid and f"{current.span_id:016x}" == span_id:
        return None
    try:
        ctx = SpanContext(
            int(record.__dict__.get("otelTraceID", "0"), 16),
            int(span_id, 16),
            is_remote=False,
            trace_flags=TraceFlags(1 if record.__dict__.get("otelTraceSampled") else 0),
        )
    except (TypeError, ValueError):
        return None
    return set_span_in_context(NonRecordingSpan(ctx)) if ctx.is_valid else _NO_SPAN


class LogRecordHandler(logging.Handler):
    """Exports each record it handles as an OpenTelemetry log record.

    The instrumentation scope is the logger's name, severity comes from the level, the body
    is the message (formatted by the handler's formatter when one is set), ``extra=`` fields
    become attributes (bounded like every Spanwise attribute) along with ``code.*`` and
    ``thread.*``, ``exc_info`` becomes the record's exception, and the trace context is the
    one the record was made in. Records go to *logger_provider*, or the global one.

    Records of the ``opentelemetry`` loggers, and records logged while this handler is
    exporting, are skipped so exporting never loops. A failure here is logged once and never
    reaches the application.

    .. versionadded:: 0.1.0
    """

    def __init__(self, level: int | str = logging.NOTSET, logger_provider: Any = None) -> None:
        super().__init__(level)
        self._emitter = LogEmitter(SCOPE, _version(), logger_provider)
        self._local = threading.local()
        self._open = True
        stdlib_export_started()

    def emit(self, record: logging.LogRecord) -> None:
        """Export *record*."""
        local = self._local
        if getattr(local, "busy", False) or record.name.startswith(_SKIPPED):
            return
        local.busy = True
        try:
            self._export(record)
        except Exception as exc:  # noqa: BLE001 - logging must never break the application
            _guard.report("export", exc)
        finally:
            local.busy = False

    def close(self) -> None:
        """Detach; standard-library records are no longer counted as exported."""
        with _close_lock:
            was_open, self._open = self._open, False
        if was_open:
            stdlib_export_stopped()
        super().close()

    def _export(self, record: logging.LogRecord) -> None:
        limit = max_attribute_length()
        if self.formatter is not None:
            body: Any = self.format(record)
        elif not record.args and not isinstance(record.msg, str):
            body = log_value(record.msg, limit)
        else:
            body = record.getMessage()
        if isinstance(body, str) and len(body) > limit:
            body = body[:limit]
        values = record.__dict__
        attributes = log_attributes(
            (item for item in values.items() if item[0] not in _RESERVED), frozenset()
        )
        attributes["code.file.path"] = record.pathname
        attributes["code.function.name"] = record.funcName
        attributes["code.line.number"] = record.lineno
        if record.thread is not None:
            attributes["thread.id"] = record.thread
        if record.threadName is not None:
            attributes["thread.name"] = record.threadName
        exc_info = record.exc_info
        exception = exc_info[1] if isinstance(exc_info, tuple) else None
        number = severity_from_levelno(record.levelno)[0]
        self._emitter.emit(
            record.name or None,
            (number, _TEXTS.get(record.levelname, record.levelname)),
            body,
            attributes,
            timestamp=int(record.created * 1e9),
            context=_record_context(record),
            exception=exception,
        )
