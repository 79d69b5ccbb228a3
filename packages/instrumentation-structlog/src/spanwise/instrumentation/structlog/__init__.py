"""Log correlation for structlog: trace and span ids in every event, optional OTel export."""

from ._export import LogRecordExporter
from ._instrumentor import StructlogInstrumentor
from ._processor import add_trace_context

__all__ = ["LogRecordExporter", "StructlogInstrumentor", "add_trace_context"]
