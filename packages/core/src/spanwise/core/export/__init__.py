"""SDK extensions for export: a console span tree (more exporters arrive with the pipeline)."""

from ._console_tree import ConsoleSpanTreeExporter, format_duration, format_trace_tree

__all__ = ["ConsoleSpanTreeExporter", "format_duration", "format_trace_tree"]
