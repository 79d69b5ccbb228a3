"""The Spanwise test kit: capture telemetry in memory and assert on span trees."""

from ._capture import CapturedTelemetry, SwitchableSampler, captured_telemetry
from ._jsonl import JsonLinesSpanExporter, install_jsonl_export, read_spans
from ._net import free_port, wait_for_port
from ._otlp import OtlpReceiver, Received, otlp_attributes, span_record
from ._tree import SpanRecord, assert_span_tree, render_tree, to_record

__all__ = [
    "CapturedTelemetry",
    "JsonLinesSpanExporter",
    "OtlpReceiver",
    "Received",
    "SpanRecord",
    "SwitchableSampler",
    "assert_span_tree",
    "captured_telemetry",
    "free_port",
    "install_jsonl_export",
    "otlp_attributes",
    "read_spans",
    "render_tree",
    "span_record",
    "to_record",
    "wait_for_port",
]
