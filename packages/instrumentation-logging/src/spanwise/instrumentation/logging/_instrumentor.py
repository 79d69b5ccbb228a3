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
        self._patch_make_record(fields)  # last: nothing after it can fail and leave it in place

    def _patch_make_record(self, fields: RecordFields) -> None:
        """Put a plain function in place of ``Logger.makeRecord``: no wrapper object bound per
        record (a wrapt wrapper costs about 1.4 µs a record). Anything but the stdlib's plain
        function there (someone else's wrapper) is wrapped through the patcher as before.
        Either way ``uninstrument()`` puts the original back through the patcher."""
        patcher = self.patcher
        patcher.replace(
            "logging",
            "Logger.makeRecord",
            lambda original: fields.make_record(original, patcher),
            fields.wrapper(patcher),
        )

    def _uninstrument(self) -> None:
        handler, self._handler = self._handler, None
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        add_field_defaults()
