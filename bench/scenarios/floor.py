"""The floor: one bare SDK span start/end plus one histogram record, no instrumentation."""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry import metrics, trace

NAME = "floor"
CONTRIB = None


def make(variant: str) -> Callable[[], object]:
    tracer = trace.get_tracer("bench.floor")
    histogram = metrics.get_meter("bench.floor").create_histogram("bench.floor.duration", unit="s")
    attrs = {"http.request.method": "GET"}

    def op() -> None:
        tracer.start_span("floor").end()
        histogram.record(0.001, attrs)

    return op
