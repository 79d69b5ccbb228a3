"""``LoggingInstrumentor``: trace context on every standard-library ``LogRecord``."""

from __future__ import annotations

import logging

from spanwise.core import Instrumentor

from ._fields import DEFAULT_FORMAT, RECORD_DEFAULTS
from ._formatters import add_field_defaults
from ._handler import LogRecordHandler
from ._record import RecordFields

__all__ = ["LoggingInstrumentor"]


def _level(value: object) -> int:
    if isinstance(value, int):
        return value
    found = logging.getLevelName(str(value).strip().upper())
    return found if isinstance(found, int) else logging.INFO


class LoggingInstrumentor(Instrumentor):
    """Puts ``otelTraceID``, ``otelSpanID``, ``otelTraceSampled`` and ``otelServiceName`` on
    every record made through ``Logger.makeRecord`` (all loggers, made before or after).

    Options:

    - ``set_logging_format`` (``OTEL_PYTHON_LOG_CORRELATION``, default off): call
      ``logging.basicConfig`` with ``logging_format`` (``OTEL_PYTHON_LOG_FORMAT``, default
      :data:`DEFAULT_FORMAT`) and ``log_level`` (``OTEL_PYTHON_LOG_LEVEL``, default ``info``);
      like ``basicConfig`` itself, it does nothing if the root logger has handlers.
    - ``export_logs`` (``SPANWISE_LOGS_EXPORT``, default off): attach a
      :class:`LogRecordHandler` to the root logger, exporting records as OpenTelemetry log
      records to ``logger_provider`` (default: the global one).
    - ``tracer_provider``: where ``otelServiceName`` is read from (default: the global one).

    ``uninstrument()`` restores ``Logger.makeRecord``, detaches the export handler, and gives
    the formatters of attached handlers whose format mentions the fields a default for them
    (:data:`RECORD_DEFAULTS`), so those formats keep formatting.

    .. versionadded:: 0.1.0
    """

    name = "logging"
    distribution = "spanwise-instrumentation-logging"

    _handler: LogRecordHandler | None = None

    def _instrument(self) -> None:
        fields = RecordFields(self.options.tracer_provider)
        self.patcher.wrap("logging", "Logger.makeRecord", fields.wrapper(self.patcher))
        get = self.options.get
        if get("set_logging_format", False, env="OTEL_PYTHON_LOG_CORRELATION"):
            root = logging.getLogger()
            if not root.handlers:
                handler = logging.StreamHandler()
                fmt = get("logging_format", DEFAULT_FORMAT, env="OTEL_PYTHON_LOG_FORMAT")
                handler.setFormatter(logging.Formatter(fmt, defaults=dict(RECORD_DEFAULTS)))
                level = _level(get("log_level", "info", env="OTEL_PYTHON_LOG_LEVEL"))
                logging.basicConfig(handlers=[handler], level=level)
        if get("export_logs", False, env="SPANWISE_LOGS_EXPORT"):
            self._handler = LogRecordHandler(logger_provider=self.options.logger_provider)
            logging.getLogger().addHandler(self._handler)

    def _uninstrument(self) -> None:
        handler, self._handler = self._handler, None
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        add_field_defaults()
