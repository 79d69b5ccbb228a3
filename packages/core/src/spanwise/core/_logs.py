"""Log correlation and export helpers shared by the structlog and stdlib logging plugins.

One place formats trace and span ids, maps levels to OpenTelemetry severities, bounds log
attributes and emits OpenTelemetry log records through a logger provider.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Iterable
from typing import Any

from opentelemetry import _logs
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context

from ._config import max_attribute_length

__all__ = [
    "MAX_LOG_ATTRIBUTES",
    "LogEmitter",
    "format_span_id",
    "format_trace_flags",
    "format_trace_id",
    "log_attributes",
    "log_value",
    "severity_from_levelno",
    "severity_from_name",
    "stdlib_export_active",
    "stdlib_export_started",
    "stdlib_export_stopped",
]

#: At most this many attributes are put on one exported log record.
MAX_LOG_ATTRIBUTES = 128
#: At most this many instrumentation scopes (logger names) get their own OpenTelemetry logger.
MAX_SCOPES = 256

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def format_trace_id(trace_id: int) -> str:
    """A trace id as 32 lower-case hex digits, as in ``traceparent``."""
    return f"{trace_id:032x}"


def format_span_id(span_id: int) -> str:
    """A span id as 16 lower-case hex digits, as in ``traceparent``."""
    return f"{span_id:016x}"


def format_trace_flags(trace_flags: int) -> str:
    """Trace flags as 2 hex digits, as in ``traceparent`` (``"01"`` when sampled)."""
    return f"{trace_flags:02x}"


_BASES: dict[int, tuple[SeverityNumber, str]] = {
    10: (SeverityNumber.DEBUG, "DEBUG"),
    20: (SeverityNumber.INFO, "INFO"),
    30: (SeverityNumber.WARN, "WARN"),
    40: (SeverityNumber.ERROR, "ERROR"),
    50: (SeverityNumber.FATAL, "FATAL"),
}


def severity_from_levelno(levelno: int) -> tuple[SeverityNumber, str]:
    """The OpenTelemetry severity of a :mod:`logging` level number, as the SDK maps it.

    ``DEBUG`` (10) is ``DEBUG``, 11 ``DEBUG2``, 12 ``DEBUG3``, 13 to 19 ``DEBUG4``, and so on
    up to ``FATAL4`` for 53 and above; below 10 is ``UNSPECIFIED``.
    """
    if levelno < 10:
        return SeverityNumber.UNSPECIFIED, ""
    base = min(50, levelno // 10 * 10)
    number, text = _BASES[base]
    return SeverityNumber(number.value + min(3, levelno - base)), text


_NAMES: dict[str, tuple[SeverityNumber, str]] = {
    "trace": (SeverityNumber.TRACE, "TRACE"),
    "debug": (SeverityNumber.DEBUG, "DEBUG"),
    "info": (SeverityNumber.INFO, "INFO"),
    "msg": (SeverityNumber.INFO, "INFO"),
    "notice": (SeverityNumber.INFO2, "INFO"),
    "warning": (SeverityNumber.WARN, "WARN"),
    "warn": (SeverityNumber.WARN, "WARN"),
    "error": (SeverityNumber.ERROR, "ERROR"),
    "err": (SeverityNumber.ERROR, "ERROR"),
    "exception": (SeverityNumber.ERROR, "ERROR"),
    "critical": (SeverityNumber.FATAL, "FATAL"),
    "fatal": (SeverityNumber.FATAL, "FATAL"),
}


def severity_from_name(name: object) -> tuple[SeverityNumber, str]:
    """The OpenTelemetry severity of a level or method name (``"info"``, ``"WARNING"``, …).

    Unknown names give ``UNSPECIFIED`` with the name itself (bounded) as the text.
    """
    if not isinstance(name, str):
        return SeverityNumber.UNSPECIFIED, ""
    found = _NAMES.get(name.lower())
    if found is not None:
        return found
    return SeverityNumber.UNSPECIFIED, name[:32]


def log_value(value: object, limit: int) -> Any:
    """*value* as an attribute value: strings cut to *limit*, ``bool``/``float`` and 64-bit
    ``int`` kept, sequences of one primitive type kept (bounded), anything else as bounded
    ``str()`` (``repr`` if ``str`` fails, a placeholder if both do)."""
    kind = type(value)
    if kind is str:
        return value if len(value) <= limit else value[:limit]  # type: ignore[index,arg-type]
    if kind is bool or kind is float:
        return value
    if kind is int:
        return value if _INT64_MIN <= value <= _INT64_MAX else str(value)[:limit]  # type: ignore[operator]
    if kind is list or kind is tuple:
        items = value[:MAX_LOG_ATTRIBUTES]  # type: ignore[index]
        types = {type(item) for item in items}
        if len(types) == 1 and types <= {str, bool, float, int}:
            if types == {str}:
                return tuple(item[:limit] for item in items)
            if types != {int} or all(_INT64_MIN <= item <= _INT64_MAX for item in items):
                return tuple(items)
    if isinstance(value, bytes):
        return value[:limit].decode("utf-8", "replace")
    try:
        text = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break logging
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001
            return f"<unrepresentable {type(value).__name__}>"[:limit]
    return text[:limit]


def log_attributes(
    items: Iterable[tuple[Any, Any]], skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Bounded attributes from *items* (key, value pairs): at most :data:`MAX_LOG_ATTRIBUTES`,
    keys as ``str``, values through :func:`log_value`, ``None`` values and *skip* keys left out."""
    limit = max_attribute_length()
    out: dict[str, Any] = {}
    for key, value in items:
        if value is None or key in skip:
            continue
        if len(out) >= MAX_LOG_ATTRIBUTES:
            break
        name = key[:256] if type(key) is str else str(log_value(key, 256))
        out[name] = log_value(value, limit)
    return out


def _record_parameters() -> frozenset[str]:
    try:
        return frozenset(inspect.signature(_logs.LogRecord.__init__).parameters)
    except (TypeError, ValueError):  # pragma: no cover - signature always readable in CPython
        return frozenset()


_RECORD_PARAMETERS = _record_parameters()
_HAS_CONTEXT = "context" in _RECORD_PARAMETERS
_HAS_EXCEPTION = "exception" in _RECORD_PARAMETERS


class LogEmitter:
    """Emits OpenTelemetry log records through a logger provider (the global one by default,
    resolved lazily so a provider configured later is used).

    Each instrumentation scope (typically the logger's name) gets its own OpenTelemetry
    logger, cached; past :data:`MAX_SCOPES` names, records use *fallback_scope*.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_lock", "_loggers", "fallback_scope", "logger_provider", "version")

    def __init__(self, fallback_scope: str, version: str, logger_provider: Any = None) -> None:
        self.fallback_scope = fallback_scope
        self.version = version
        self.logger_provider = logger_provider
        self._loggers: dict[str, _logs.Logger] = {}
        self._lock = threading.Lock()

    def logger(self, scope: str | None) -> _logs.Logger:
        """The OpenTelemetry logger for *scope* (``None``: the fallback scope)."""
        name = scope or self.fallback_scope
        found = self._loggers.get(name)
        if found is not None:
            return found
        with self._lock:
            if name not in self._loggers and len(self._loggers) >= MAX_SCOPES:
                name = self.fallback_scope
            found = self._loggers.get(name)
            if found is None:
                found = _logs.get_logger(name, self.version, logger_provider=self.logger_provider)
                self._loggers[name] = found
            return found

    def emit(
        self,
        scope: str | None,
        severity: tuple[SeverityNumber, str],
        body: Any,
        attributes: dict[str, Any],
        *,
        timestamp: int | None = None,
        context: Context | None = None,
        exception: BaseException | None = None,
    ) -> None:
        """Emit one record; *context* (default: the current one) gives its trace context."""
        number, text = severity
        fields: dict[str, Any] = {
            "timestamp": time.time_ns() if timestamp is None else timestamp,
            "severity_number": number,
            "severity_text": text or None,
            "body": body,
            "attributes": attributes,
        }
        if context is not None:
            if _HAS_CONTEXT:
                fields["context"] = context
            else:  # pragma: no cover - opentelemetry-api < 1.35
                from opentelemetry import trace

                span_context = trace.get_current_span(context).get_span_context()
                fields["trace_id"] = span_context.trace_id
                fields["span_id"] = span_context.span_id
                fields["trace_flags"] = span_context.trace_flags
        if exception is not None and _HAS_EXCEPTION:
            fields["exception"] = exception
        self.logger(scope).emit(_logs.LogRecord(**fields))


_stdlib_exporters = 0
_stdlib_lock = threading.Lock()


def stdlib_export_started() -> None:
    """Called by the logging plugin when its exporting handler is attached."""
    global _stdlib_exporters
    with _stdlib_lock:
        _stdlib_exporters += 1


def stdlib_export_stopped() -> None:
    """Called by the logging plugin when its exporting handler is detached."""
    global _stdlib_exporters
    with _stdlib_lock:
        _stdlib_exporters = max(0, _stdlib_exporters - 1)


def stdlib_export_active() -> bool:
    """Whether standard-library records are being exported (so a structlog event handed to a
    :class:`logging.Logger` should not be exported a second time)."""
    return _stdlib_exporters > 0
