"""The processor that exports each event as an OpenTelemetry log record."""

from __future__ import annotations

import logging
import sys
from importlib import metadata
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import get_current_span

from spanwise.core import Guard, max_attribute_length
from spanwise.core.logs import (
    LogEmitter,
    log_attributes,
    log_value,
    severity_from_name,
    stdlib_export_active,
)

if TYPE_CHECKING:
    from structlog.typing import EventDict, WrappedLogger

__all__ = ["LogRecordExporter"]

SCOPE = "spanwise.instrumentation.structlog"
# Keys that become fields of the record rather than attributes.
_FIELDS = frozenset({"event", "level", "exc_info", "exception"})
_FIELDS_AND_IDS = _FIELDS | {"trace_id", "span_id", "trace_flags"}

_guard = Guard("structlog")


def _version() -> str:
    try:
        return metadata.version("spanwise-instrumentation-structlog")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed in the workspace
        return "0.0.0"


def _exception(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        found = exc_info[1]
        return found if isinstance(found, BaseException) else None
    if exc_info is True:
        return sys.exc_info()[1]
    return None


class LogRecordExporter:
    """A structlog processor that emits each event as an OpenTelemetry log record.

    Severity comes from the ``level`` key (see ``structlog.processors.add_log_level``) or the
    method name, the body is the ``event``, the other keys become attributes (at most 128,
    strings cut to ``SPANWISE_MAX_ATTRIBUTE_LENGTH``, other values as bounded ``str()``), an
    ``exc_info`` becomes the record's exception and the current span gives its trace context.
    The instrumentation scope is the ``logger`` key when present (``add_logger_name``).

    The event dict is returned unchanged, so place it before the renderer. Records go to
    *logger_provider*, or the global one (``opentelemetry._logs``). An event headed for a
    :class:`logging.Logger` is skipped while the logging plugin exports standard-library
    records, so it is exported once. A failure here is logged once and never reaches the
    application.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_emitter",)

    def __init__(self, logger_provider: Any = None) -> None:
        self._emitter = LogEmitter(SCOPE, _version(), logger_provider)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        try:
            self._export(logger, method_name, event_dict)
        except Exception as exc:  # noqa: BLE001 - logging must never break the application
            _guard.report("export", exc)
        return event_dict

    def _export(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> None:
        if isinstance(logger, logging.Logger) and stdlib_export_active():
            return
        limit = max_attribute_length()
        body = event_dict.get("event")
        if body is not None:
            body = log_value(body, limit)
        skip = _FIELDS_AND_IDS if get_current_span().get_span_context().is_valid else _FIELDS
        attributes = log_attributes(event_dict.items(), skip)
        stacktrace = event_dict.get("exception")
        if isinstance(stacktrace, str):
            attributes["exception.stacktrace"] = stacktrace[:limit]
        scope = event_dict.get("logger")
        self._emitter.emit(
            scope if isinstance(scope, str) else None,
            severity_from_name(event_dict.get("level") or method_name),
            body,
            attributes,
            exception=_exception(event_dict.get("exc_info")),
        )
