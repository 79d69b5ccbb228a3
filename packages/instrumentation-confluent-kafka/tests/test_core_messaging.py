"""spanwise.core._messaging (the shared MessagingTracer), tested where it is first used."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry.context import Context

from spanwise.core import Guard, Options
from spanwise.core._messaging import MessagingTracer
from spanwise.core.propagation import dict_getter, dict_setter, inject


@pytest.fixture
def messaging(telemetry: Any) -> MessagingTracer:
    return MessagingTracer(
        trace.get_tracer("t"), telemetry.meter_provider.get_meter("t"), Options("m"),
        Guard("m"), "celery",
    )  # fmt: skip


def _carrier() -> dict[str, str]:
    ctx = trace.SpanContext(7, 9, True, trace.TraceFlags(1))
    context = baggage.set_baggage(
        "k", "v", trace.set_span_in_context(trace.NonRecordingSpan(ctx), Context())
    )
    carrier: dict[str, str] = {}
    inject(carrier, dict_setter, context)
    return carrier


class TestMessagingTracer:
    def test_send_span_and_counts(self, messaging: MessagingTracer, telemetry: Any) -> None:
        """A send operation is a PRODUCER span; ending it records duration and one sent message."""
        messaging.start_send("q", operation_name="publish", message_id="m1").end()
        span = telemetry.span("publish q")
        assert (trace.SpanKind.PRODUCER, "m1") == (
            span.kind,
            span.attributes["messaging.message.id"],
        )
        metrics = telemetry.metrics()
        assert [1] == [p.value for p in metrics["messaging.client.sent.messages"]]
        assert [1] == [p.count for p in metrics["messaging.client.operation.duration"]]

    def test_deferred_count_once(self, messaging: MessagingTracer, telemetry: Any) -> None:
        """With defer_count only the first delivered() report counts, with its error type."""
        operation = messaging.start_send("q", defer_count=True)
        operation.end()
        operation.delivered("_TIMED_OUT")
        operation.delivered(None)
        points = telemetry.metrics()["messaging.client.sent.messages"]
        assert [("_TIMED_OUT", 1)] == [(p.attributes["error.type"], p.value) for p in points]

    def test_process_child_with_baggage(self, messaging: MessagingTracer, telemetry: Any) -> None:
        """A process span is the producer's child; attach() makes it and the baggage current."""
        operation = messaging.start_process("q", carrier=_carrier(), getter=dict_getter)
        token = operation.attach()
        assert ("v", operation.span) == (baggage.get_baggage("k"), trace.get_current_span())
        operation.detach(token)
        operation.end()
        span = telemetry.span("process q")
        assert (7, 9) == (span.context.trace_id, span.parent.span_id)

    def test_process_link(self, messaging: MessagingTracer, telemetry: Any) -> None:
        """With link=True the process span is a new root linked to the producer."""
        messaging.start_process("q", carrier=_carrier(), getter=dict_getter, link=True).end()
        span = telemetry.span("process q")
        assert (None, [9]) == (span.parent, [link.context.span_id for link in span.links])

    def test_process_error_and_consumed(self, messaging: MessagingTracer, telemetry: Any) -> None:
        """A failed process records error.type on its duration; count_consumed counts it."""
        operation = messaging.start_process("q", count_consumed=True)
        operation.record_exception(ValueError("x"))
        operation.end()
        metrics = telemetry.metrics()
        assert ["ValueError"] == [
            p.attributes["error.type"] for p in metrics["messaging.process.duration"]
        ]
        assert [1] == [p.value for p in metrics["messaging.client.consumed.messages"]]
        assert trace.StatusCode.ERROR == telemetry.span("process q").status.status_code

    def test_garbage_carrier(self, messaging: MessagingTracer, telemetry: Any) -> None:
        """A carrier full of junk starts a span in the current context without raising."""
        junk = {"traceparent": "garbage", "baggage": "\x00" * 10_000}
        messaging.start_process("q", carrier=junk, getter=dict_getter).end()
        assert telemetry.span("process q").parent is None
