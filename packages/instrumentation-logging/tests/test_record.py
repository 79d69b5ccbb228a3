"""RecordFields: ids and service name for one record."""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, TraceFlags

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.logging._record import RecordFields


class TestRecordFields:
    def test_ids_of_span(self, telemetry: CapturedTelemetry) -> None:
        """Zero-padded lower-case hex ids and the sampled flag."""
        ctx = SpanContext(0xAB, 0xCD, is_remote=True, trace_flags=TraceFlags(1))
        with trace.use_span(NonRecordingSpan(ctx)):
            assert ("0" * 30 + "ab", "0" * 14 + "cd", True) == RecordFields().ids()

    def test_ids_outside_span(self, telemetry: CapturedTelemetry) -> None:
        """No span, or an invalid one: "0", "0", False."""
        fields = RecordFields()
        assert ("0", "0", False) == fields.ids()
        with trace.use_span(INVALID_SPAN):
            assert ("0", "0", False) == fields.ids()

    def test_ids_follow_the_span(self, telemetry: CapturedTelemetry) -> None:
        """Consecutive spans give their own ids (the cache never serves a stale one)."""
        fields = RecordFields()
        tracer = trace.get_tracer("tests")
        seen = []
        for _ in range(3):
            with tracer.start_as_current_span("s") as span:
                assert f"{span.get_span_context().span_id:016x}" == fields.ids()[1]
                seen.append(fields.ids()[1])
        assert 3 == len(set(seen))

    def test_service_name(self, telemetry: CapturedTelemetry) -> None:
        """The global tracer provider's service.name."""
        assert "spanwise-tests" == RecordFields().service_name()

    def test_service_name_without_sdk(self) -> None:
        """A provider without a resource (no SDK yet) gives "" and is asked again later."""
        fields = RecordFields(trace.NoOpTracerProvider())
        assert "" == fields.service_name()
        assert fields._service is None

    def test_apply_keeps_given_fields(self, telemetry: CapturedTelemetry) -> None:
        """Fields the record already has are kept; the others are set."""
        record = logging.LogRecord("n", logging.INFO, "f", 1, "m", (), None)
        record.otelSpanID = "given"
        RecordFields().apply(record)
        assert ("0", "given", False, "spanwise-tests") == (
            record.otelTraceID,
            record.otelSpanID,
            record.otelTraceSampled,
            record.otelServiceName,
        )
