"""spanwise.instrumentation.confluent_kafka._producer."""

from __future__ import annotations

from typing import Any

import confluent_kafka
import pytest
from confluent_kafka.serialization import StringSerializer
from opentelemetry import trace

from spanwise.core import Guard, Options
from spanwise.core._messaging import MessagingTracer
from spanwise.core.context import suppress
from spanwise.instrumentation.confluent_kafka._producer import with_context


def _traceparent_of(span: Any) -> bytes:
    ctx = span.context
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}".encode()


def _received_headers(kafka: Any, topic: str) -> list[tuple[str, Any]]:
    consumer = confluent_kafka.cimpl.Consumer(kafka.consumer_config())
    try:
        kafka.assign(consumer, topic)
        return kafka.poll_one(consumer).headers() or []
    finally:
        consumer.close()


def _sent(telemetry: Any) -> list[Any]:
    return telemetry.metrics().get("messaging.client.sent.messages", [])


class TestWithContext:
    @pytest.fixture
    def operation(self, telemetry: Any) -> Any:
        tracer = MessagingTracer(
            trace.get_tracer("t"), telemetry.meter_provider.get_meter("t"), Options("k"),
            Guard("k"), "kafka",
        )  # fmt: skip
        operation = tracer.start_send("orders")
        yield operation
        operation.end()

    def test_list_is_copied_and_extended(self, operation: Any) -> None:
        """A header list comes back as a new list: the app's pairs, then traceparent."""
        headers = [("a", b"1")]
        traced = with_context(headers, operation)
        assert [("a", b"1")] == headers
        assert ["a", "traceparent"] == [name for name, _ in traced]

    def test_dict_is_copied_and_extended(self, operation: Any) -> None:
        """A header dict comes back as a new dict with traceparent added."""
        headers = {"a": b"1"}
        traced = with_context(headers, operation)
        assert {"a": b"1"} == headers
        assert ["a", "traceparent"] == list(traced)

    def test_none_becomes_a_list(self, operation: Any) -> None:
        """No headers: a list holding just the trace context."""
        assert ["traceparent"] == [name for name, _ in with_context(None, operation)]

    def test_existing_traceparent_is_left_alone(self, operation: Any) -> None:
        """Headers already carrying traceparent (any case) are returned as they are."""
        listed = [("TraceParent", b"x")]
        mapped = {"traceparent": b"x"}
        assert listed is with_context(listed, operation)
        assert mapped is with_context(mapped, operation)

    def test_unknown_type_is_left_alone(self, operation: Any) -> None:
        """A header object of a type we do not know is passed through untouched."""
        odd = (("a", b"1"),)
        assert odd is with_context(odd, operation)


class TestProduce:
    def test_producer_span(self, instrument: Any, kafka: Any, topic: str, telemetry: Any) -> None:
        """produce() makes a PRODUCER span `send {topic}` with the messaging attributes."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config(**{"client.id": "app-1"}))
        producer.produce(topic, b"v", partition=0)
        producer.flush(10)
        span = telemetry.span(f"send {topic}")
        assert trace.SpanKind.PRODUCER == span.kind
        assert {
            "messaging.system": "kafka",
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": "0",
            "messaging.client.id": "app-1",
        } == dict(span.attributes)

    def test_context_reaches_the_broker(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """The message on the broker carries the send span's traceparent after the app's headers."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config())
        headers = [("app", b"1")]
        producer.produce(topic, value=b"v", partition=0, headers=headers)
        producer.flush(10)
        assert [("app", b"1")] == headers
        expected = [
            ("app", b"1"),
            ("traceparent", _traceparent_of(telemetry.span(f"send {topic}"))),
        ]
        assert expected == _received_headers(kafka, topic)

    def test_suppressed_produce_passes_through(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """Inside suppress(): no span, no sent count, and the broker gets the app's headers
        exactly as given."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config())
        with suppress():
            producer.produce(topic, value=b"v", partition=0, headers=[("app", b"1")])
        producer.flush(10)
        assert ([], [], [("app", b"1")]) == (
            telemetry.spans(),
            _sent(telemetry),
            _received_headers(kafka, topic),
        )

    def test_app_traceparent_is_not_duplicated(
        self, instrument: Any, kafka: Any, topic: str
    ) -> None:
        """An app that sets traceparent itself gets exactly its own header on the broker."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config())
        own = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        producer.produce(topic, value=b"v", partition=0, headers={"traceparent": own})
        producer.flush(10)
        assert [("traceparent", own)] == _received_headers(kafka, topic)

    def test_positional_arguments(self, instrument: Any, kafka: Any, topic: str) -> None:
        """All eight positional arguments keep their meaning, headers included."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config())
        reports: list[Any] = []
        producer.produce(
            topic, b"v", b"k", 0, lambda e, m: reports.append(m.key()), None, 0, [("h", b"1")]
        )
        producer.flush(10)
        assert [b"k"] == reports
        assert ["h", "traceparent"] == [name for name, _ in _received_headers(kafka, topic)]

    def test_app_callback_runs_and_success_is_counted(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """The app's on_delivery gets the real (err, msg); the message counts as sent."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config())
        reports: list[Any] = []
        producer.produce(
            topic, b"v", partition=0, on_delivery=lambda e, m: reports.append((e, m.topic()))
        )
        producer.flush(10)
        assert [(None, topic)] == reports
        points = _sent(telemetry)
        assert [1] == [p.value for p in points]
        assert "error.type" not in points[0].attributes

    def test_config_level_callback_still_runs(
        self, instrument: Any, kafka: Any, topic: str
    ) -> None:
        """A producer-wide on_delivery from the config still receives every report."""
        instrument()
        reports: list[Any] = []
        producer = confluent_kafka.Producer(
            kafka.producer_config(on_delivery=lambda e, m: reports.append(m.value()))
        )
        producer.produce(topic, b"v1", partition=0)
        producer.produce(topic, b"v2", partition=0)
        producer.flush(10)
        assert [b"v1", b"v2"] == reports

    def test_delivery_failure_is_counted_with_error_type(
        self, instrument: Any, topic: str, telemetry: Any
    ) -> None:
        """A message the broker never acknowledges counts as sent with the Kafka error name."""
        instrument()
        producer = confluent_kafka.Producer(
            {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 200, "log_level": 0}
        )
        errors: list[Any] = []
        producer.produce(topic, b"v", on_delivery=lambda e, m: errors.append(e.name()))
        producer.flush(10)
        assert ["_MSG_TIMED_OUT"] == errors
        assert ["_MSG_TIMED_OUT"] == [p.attributes.get("error.type") for p in _sent(telemetry)]

    def test_app_callback_exception_propagates(
        self, instrument: Any, kafka: Any, topic: str
    ) -> None:
        """An exception raised by the app's callback reaches the app's flush() as before."""
        instrument()
        producer = confluent_kafka.Producer(kafka.producer_config())

        def boom(err: Any, msg: Any) -> None:
            raise LookupError("from the callback")

        producer.produce(topic, b"v", partition=0, on_delivery=boom)
        with pytest.raises(LookupError, match="from the callback"):
            producer.flush(10)

    def test_buffer_error_propagates_and_is_recorded(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A full queue raises BufferError to the app; the span and the count say so."""
        instrument()
        producer = confluent_kafka.Producer(
            kafka.producer_config(**{"queue.buffering.max.messages": 1})
        )
        producer.produce(topic, b"v1", partition=0)
        with pytest.raises(BufferError):
            producer.produce(topic, b"v2", partition=0)
        producer.flush(10)
        failed = telemetry.spans()[1]
        assert trace.StatusCode.ERROR == failed.status.status_code
        assert "BufferError" == failed.attributes["error.type"]
        assert ["BufferError", None] == sorted(
            (p.attributes.get("error.type") for p in _sent(telemetry)), key=str
        )

    def test_unsampled_still_propagates(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """Unsampled: no span is exported, but the context (sampled flag off) still travels."""
        instrument()
        telemetry.sample(False)
        producer = confluent_kafka.Producer(kafka.producer_config())
        producer.produce(topic, b"v", partition=0)
        producer.flush(10)
        assert [] == telemetry.spans()
        headers = dict(_received_headers(kafka, topic))
        assert 0 == int(headers["traceparent"][-2:], 16) & 1  # the sampled bit is off


class TestSerializingProducer:
    def test_serializing_producer_is_traced(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """SerializingProducer.produce(topic, key, value, ...) is traced and serializes as before."""
        instrument()
        producer = confluent_kafka.SerializingProducer(
            kafka.producer_config(
                **{"key.serializer": StringSerializer(), "value.serializer": StringSerializer()}
            )
        )
        producer.produce(topic, "key", "value", 0, None, 0, {"h": b"1"})
        producer.flush(10)
        assert f"send {topic}" == telemetry.spans()[0].name
        consumer = confluent_kafka.cimpl.Consumer(kafka.consumer_config())
        kafka.assign(consumer, topic)
        message = kafka.poll_one(consumer)
        consumer.close()
        assert (b"key", b"value") == (message.key(), message.value())
        assert ["h", "traceparent"] == [name for name, _ in message.headers()]

    def test_made_before_instrument_is_traced(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A SerializingProducer created before instrument() is traced (methods are patched)."""
        producer = confluent_kafka.SerializingProducer(kafka.producer_config())
        instrument()
        reports: list[Any] = []
        producer.produce(topic, value=b"v", partition=0, on_delivery=lambda e, m: reports.append(e))
        producer.flush(10)
        assert [None] == reports
        assert [f"send {topic}"] == [s.name for s in telemetry.spans()]
