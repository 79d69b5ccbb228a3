"""The record fields the plugin adds, their values outside a span, and the default format."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULT_FORMAT", "FIELDS", "RECORD_DEFAULTS"]

#: The ``LogRecord`` attributes set on every record (the names opentelemetry-python-contrib uses).
FIELDS = ("otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName")

#: Their values outside a span. Pass as ``logging.Formatter(fmt, defaults=RECORD_DEFAULTS)`` so
#: a format that mentions them still formats records made while not instrumented.
RECORD_DEFAULTS: MappingProxyType[str, Any] = MappingProxyType(
    {"otelTraceID": "0", "otelSpanID": "0", "otelTraceSampled": False, "otelServiceName": ""}
)

#: The format ``set_logging_format=True`` installs (``OTEL_PYTHON_LOG_FORMAT`` overrides it).
DEFAULT_FORMAT = (
    "%(asctime)s %(levelname)s [%(name)s] [%(filename)s:%(lineno)d] "
    "[trace_id=%(otelTraceID)s span_id=%(otelSpanID)s "
    "resource.service.name=%(otelServiceName)s trace_sampled=%(otelTraceSampled)s] - %(message)s"
)
