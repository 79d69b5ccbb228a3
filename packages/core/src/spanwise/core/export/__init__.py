"""SDK extensions for export: a console span tree, retrying and disk-buffered exporters."""

from ._console_tree import ConsoleSpanTreeExporter, format_duration, format_trace_tree
from ._disk import BufferStats, DiskBufferedSpanExporter, decode_spans, encode_spans
from ._retrying import RetryingSpanExporter, RetryStats, parse_retry_after

__all__ = [
    "BufferStats",
    "ConsoleSpanTreeExporter",
    "DiskBufferedSpanExporter",
    "RetryStats",
    "RetryingSpanExporter",
    "decode_spans",
    "encode_spans",
    "format_duration",
    "format_trace_tree",
    "parse_retry_after",
]
