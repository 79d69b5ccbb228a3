"""Exporting never traces itself: the disk buffer's sender runs with instrumentation suppressed."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from spanwise.core.export import DiskBufferedSpanExporter
from spanwise.core.testing import OtlpReceiver
from spanwise.instrumentation.requests import RequestsInstrumentor


class TestNoFeedback:
    def test_buffered_export_is_not_traced_by_the_requests_plugin(self, tmp_path: Path) -> None:
        """With the requests plugin on, exporting one span over OTLP/HTTP delivers just that span."""
        RequestsInstrumentor().instrument()
        try:
            with OtlpReceiver(grpc=False) as rx:
                exporter = DiskBufferedSpanExporter(
                    OTLPSpanExporter(endpoint=rx.http_endpoint + "/v1/traces"), tmp_path / "buffer"
                )
                provider = TracerProvider()
                provider.add_span_processor(SimpleSpanProcessor(exporter))
                # The requests plugin records through the global provider: make it this one.
                RequestsInstrumentor().uninstrument()
                RequestsInstrumentor().instrument(tracer_provider=provider)
                provider.get_tracer("t").start_span("x").end()
                provider.force_flush()
                assert rx.wait_for(lambda r: len(r.spans) >= 1, timeout=10)
                provider.shutdown()
                names = [span.name for _, _, span in rx.snapshot().spans]
        finally:
            RequestsInstrumentor().uninstrument()
        assert ["x"] == names
