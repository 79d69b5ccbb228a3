"""MessagingTracer's per-route cache and its direct trace-context injection."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, attach, detach
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from spanwise.core import Guard, Options
from spanwise.core._messaging import _MAX_ROUTES, MessagingTracer
from spanwise.core.propagation import dict_setter, inject, kafka_setter
from spanwise.core.testing import CapturedTelemetry


@pytest.fixture
def messaging(telemetry: CapturedTelemetry) -> MessagingTracer:
    return MessagingTracer(
        trace.get_tracer("t"), telemetry.meter_provider.get_meter("t"), Options("m"),
        Guard("m"), "kafka",
    )  # fmt: skip


class TestRoutes:
    def test_bounded(self, messaging: MessagingTracer, telemetry: CapturedTelemetry) -> None:
        """Past the bound, routes are built per call and not remembered; spans stay right."""
        for i in range(_MAX_ROUTES + 20):
            messaging.start_send(f"t{i}", partition=i % 3).end()
        assert _MAX_ROUTES == len(messaging._routes)
        span = telemetry.span(f"send t{_MAX_ROUTES + 19}")
        assert span.attributes is not None
        assert (f"t{_MAX_ROUTES + 19}", str((_MAX_ROUTES + 19) % 3)) == (
            span.attributes["messaging.destination.name"],
            span.attributes["messaging.destination.partition.id"],
        )

    def test_keyed_by_type(self, messaging: MessagingTracer, telemetry: CapturedTelemetry) -> None:
        """Equal values of different types (1, True) are different routes."""
        messaging.start_send("q", partition=1).end()
        messaging.start_send("q", partition=True).end()  # type: ignore[arg-type]
        assert ["1", "True"] == [
            s.attributes["messaging.destination.partition.id"]  # type: ignore[index]
            for s in telemetry.spans()
        ]

    def test_per_message_attributes_not_shared(
        self, messaging: MessagingTracer, telemetry: CapturedTelemetry
    ) -> None:
        """A message id or extra attributes on one operation never leak into the next."""
        messaging.start_send("q", message_id="m1", attributes={"x": 1}).end()
        messaging.start_send("q").end()
        first, second = telemetry.spans()
        assert first.attributes is not None
        assert second.attributes is not None
        assert ("m1", 1) == (first.attributes["messaging.message.id"], first.attributes["x"])
        assert "messaging.message.id" not in second.attributes
        assert "x" not in second.attributes

    def test_name_given(self, messaging: MessagingTracer, telemetry: CapturedTelemetry) -> None:
        """*name* replaces the span name, not the destination attribute."""
        messaging.start_process("q", name="process job").end()
        span = telemetry.span("process job")
        assert span.attributes is not None
        assert "q" == span.attributes["messaging.destination.name"]

    def test_unhashable_destination(
        self, messaging: MessagingTracer, telemetry: CapturedTelemetry
    ) -> None:
        """An unhashable value is not cached, and the operation still happens."""
        messaging.start_send("q", client_id=["odd"]).end()  # type: ignore[arg-type]
        assert 0 == len(messaging._routes)
        assert 1 == len(telemetry.spans())

    def test_receive_error_type_not_shared(
        self, messaging: MessagingTracer, telemetry: CapturedTelemetry
    ) -> None:
        """record_receive's error.type goes on that record only."""
        messaging.record_receive("q", 1, 0.1, error_type="_TIMED_OUT")
        messaging.record_receive("q", 1, 0.1)
        points = telemetry.metrics()["messaging.client.operation.duration"]
        assert [None, "_TIMED_OUT"] == sorted(
            (p.attributes.get("error.type") for p in points), key=lambda v: v or ""
        )


def _reference(operation: Any, carrier: Any, setter: Any) -> Any:
    inject(carrier, setter, operation.context)
    return carrier


class TestInject:
    @pytest.mark.parametrize("sampled", [True, False])
    @pytest.mark.parametrize("state", [None, TraceState([("k", "v")])])
    @pytest.mark.parametrize("kind", ["list", "dict"])
    def test_same_as_propagator(
        self, messaging: MessagingTracer, sampled: bool, state: Any, kind: str
    ) -> None:
        """The direct path writes exactly what the global propagator writes."""
        parent = SpanContext(0xABC, 0xDEF, True, TraceFlags(1 if sampled else 0), trace_state=state)
        token = attach(trace.set_span_in_context(trace.NonRecordingSpan(parent), Context()))
        try:
            operation = messaging.start_send("q")
        finally:
            detach(token)
        setter = kafka_setter if kind == "list" else dict_setter
        fast: Any = [] if kind == "list" else {}
        operation.inject(fast, setter)
        assert _reference(operation, [] if kind == "list" else {}, setter) == fast
        assert fast  # something was written
        operation.end()

    def test_baggage_falls_back(self, messaging: MessagingTracer) -> None:
        """With baggage in the context, the propagator runs and writes it."""
        token = attach(baggage.set_baggage("k", "v"))
        try:
            operation = messaging.start_send("q")
            carrier: dict[str, str] = {}
            operation.inject(carrier, dict_setter)
        finally:
            detach(token)
        assert ["baggage", "traceparent"] == sorted(carrier)
        operation.end()

    def test_other_propagator_runs(self, messaging: MessagingTracer) -> None:
        """A propagator that is not W3C trace context/baggage is always run."""

        class Custom(TraceContextTextMapPropagator):
            def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
                carrier["custom"] = "1"

        previous = propagate.get_global_textmap()
        propagate.set_global_textmap(CompositePropagator([Custom(), W3CBaggagePropagator()]))
        try:
            operation = messaging.start_send("q")
            carrier: dict[str, str] = {}
            operation.inject(carrier, dict_setter)
        finally:
            propagate.set_global_textmap(previous)
        assert {"custom": "1"} == carrier
        operation.end()

    def test_duplicate_propagator_runs(self, messaging: MessagingTracer) -> None:
        """Trace context composed twice writes twice, as the propagator does."""
        previous = propagate.get_global_textmap()
        tc = TraceContextTextMapPropagator()
        propagate.set_global_textmap(CompositePropagator([tc, tc]))
        try:
            operation = messaging.start_send("q")
            carrier: list[Any] = []
            operation.inject(carrier, kafka_setter)
        finally:
            propagate.set_global_textmap(previous)
        assert ["traceparent", "traceparent"] == [k for k, _ in carrier]
        operation.end()

    def test_setter_failure_swallowed(
        self, messaging: MessagingTracer, monkeypatch: Any, caplog: Any
    ) -> None:
        """A carrier that refuses the header never reaches the caller; it is reported once."""
        from spanwise.core.propagation import _carriers

        monkeypatch.setattr(_carriers, "_reported", set())
        operation = messaging.start_send("q")
        carrier = ()
        operation.inject(carrier, kafka_setter)  # a tuple has no append
        operation.end()
        assert () == carrier
        assert "failed to inject" in caplog.text
