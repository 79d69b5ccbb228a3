"""Exporters per signal, and their fork safety."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as HttpLogExporter,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpMetricExporter,
)
from opentelemetry.sdk.metrics import Counter, Histogram, ObservableCounter, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, ConsoleMetricExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult

from spanwise.core.export import ConsoleSpanTreeExporter
from spanwise.distro import OtlpSettings
from spanwise.distro._exporters import (
    ForkSafe,
    ForkSafeSpanExporter,
    log_exporter,
    metric_exporter,
    metric_temporality,
    span_exporter,
)

HTTP = OtlpSettings("http://127.0.0.1:9/v1/x", "http/protobuf", {"a": "b"}, 1.0)
GRPC = OtlpSettings("http://127.0.0.1:9", "grpc", {}, 1.0)


class Recording(SpanExporter):
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.batches: list[int] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.batches.append(len(spans))
        return SpanExportResult.SUCCESS


class TestForkSafe:
    def test_built_lazily_once(self) -> None:
        """Nothing is built until used; then the same exporter serves every call."""
        built: list[Recording] = []

        def factory() -> Recording:
            built.append(Recording())
            return built[-1]

        holder = ForkSafe(factory)
        assert (0, None) == (len(built), holder.current())
        first, second = holder.get(), holder.get()
        assert (1, True, True) == (len(built), first is second, holder.current() is first)

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
    def test_forked_child_builds_its_own(self) -> None:
        """After fork the child builds a new exporter in its own process."""
        exporter = ForkSafeSpanExporter(Recording)
        parent = exporter.exporter.get()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover  (child)
            try:
                inner = exporter.exporter.get()
                ok = inner is not parent and inner.pid == os.getpid()  # type: ignore[attr-defined]
                os.write(write, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.waitpid(pid, 0)
        assert (b"1", parent) == (answer, exporter.exporter.get())

    def test_shutdown_without_use_builds_nothing(self) -> None:
        """Shutting down an exporter never used does not create a connection."""
        built: list[Recording] = []
        exporter = ForkSafeSpanExporter(lambda: built.append(Recording()) or built[-1])
        exporter.shutdown()
        assert (True, []) == (exporter.force_flush(), built)


class TestFactories:
    def test_console(self) -> None:
        """console gives the span tree for traces and the SDK console exporter for metrics;
        console_json keeps the SDK's JSON span exporter reachable."""
        assert (True, True, True) == (
            isinstance(span_exporter("console", HTTP), ConsoleSpanTreeExporter),
            isinstance(span_exporter("console_json", HTTP), ConsoleSpanExporter),
            isinstance(metric_exporter("console", HTTP), ConsoleMetricExporter),
        )

    def test_otlp_protocols(self) -> None:
        """otlp builds the gRPC or HTTP exporter for the protocol, with our endpoint."""
        grpc_exporter = span_exporter("otlp", GRPC)
        http_metrics = metric_exporter("otlp", HTTP)
        http_logs = log_exporter("otlp", HTTP)
        assert isinstance(grpc_exporter.exporter.get(), GrpcSpanExporter)  # type: ignore[attr-defined]
        inner_metrics = http_metrics.exporter.get()  # type: ignore[attr-defined]
        inner_logs = http_logs.exporter.get()  # type: ignore[attr-defined]
        assert isinstance(inner_metrics, HttpMetricExporter)
        assert isinstance(inner_logs, HttpLogExporter)
        assert HTTP.endpoint == inner_logs._endpoint
        for exporter in (grpc_exporter, http_metrics, http_logs):
            exporter.shutdown()


class TestTemporality:
    def test_cumulative_default(self) -> None:
        """Unset: everything cumulative."""
        table = metric_temporality(None)
        assert {AggregationTemporality.CUMULATIVE} == set(table.values())

    def test_delta(self) -> None:
        """delta: counters and histograms delta, up-down counters cumulative."""
        table = metric_temporality("delta")
        expected = [AggregationTemporality.DELTA] * 3 + [AggregationTemporality.CUMULATIVE]
        assert expected == [table[Counter], table[Histogram], table[ObservableCounter],
                            table[UpDownCounter]]  # fmt: skip

    def test_lowmemory(self) -> None:
        """lowmemory: synchronous counter and histogram delta, observable counter cumulative."""
        table = metric_temporality("LowMemory")
        expected = [AggregationTemporality.DELTA] * 2 + [AggregationTemporality.CUMULATIVE]
        assert expected == [table[Counter], table[Histogram], table[ObservableCounter]]
