"""Helpers shared by the log plugins: id formatting, severities, bounded attributes, emission."""

from .._logs import (
    MAX_LOG_ATTRIBUTES,
    LogEmitter,
    format_span_id,
    format_trace_flags,
    format_trace_id,
    log_attributes,
    log_value,
    severity_from_levelno,
    severity_from_name,
    stdlib_export_active,
    stdlib_export_started,
    stdlib_export_stopped,
)

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
