"""OtlpReceiver: what the OTLP exporters send arrives decoded."""

from __future__ import annotations

from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from spanwise.core.testing import OtlpReceiver


class TestOtlpReceiver:
    def test_spans_over_http_arrive_decoded(self) -> None:
        """Spans exported over OTLP/HTTP arrive with their resource and attributes."""
        payloads: list[tuple[str, int]] = []

        def seen(path: str, body: bytes) -> None:
            payloads.append((path, len(body)))

        with OtlpReceiver(grpc=False, on_payload=seen) as rx:
            provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
            provider.add_span_processor(
                SimpleSpanProcessor(OTLPSpanExporter(endpoint=rx.http_endpoint + "/v1/traces"))
            )
            with provider.get_tracer("t").start_as_current_span("hello", attributes={"k": 1}):
                pass
            provider.shutdown()
            received = rx.snapshot()
            groups = dict(rx.spans_by_trace())
            records = rx.span_records()
        resource, scope, span = received.spans[0]
        assert ("svc", "t", "hello", 1) == (resource["service.name"], scope, span.name, len(groups))
        assert ["/v1/traces"] == [p for p, _ in payloads]
        (record,) = records
        assert ("hello", "INTERNAL", {"k": 1}, "svc") == (
            record.name,
            record.kind,
            record.attributes,
            record.resource["service.name"],
        )

    def test_grpc_endpoint_when_available(self) -> None:
        """With grpcio installed, a gRPC endpoint is served too."""
        with OtlpReceiver() as rx:
            endpoint: Any = rx.grpc_endpoint
        assert endpoint.startswith("http://127.0.0.1:")
