"""spanwise.instrumentation.confluent_kafka._consumer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import confluent_kafka
import pytest
from opentelemetry import baggage, trace
from opentelemetry.context import Context

from spanwise.core.propagation import inject, kafka_setter


@pytest.fixture
def consumer(instrument: Any, kafka: Any) -> Iterator[Any]:
    """An instrumented consumer (created after instrument())."""
    instrument()
    made = confluent_kafka.Consumer(kafka.consumer_config())
    yield made
    made.close()


def _producer_headers(trace_id: int = 0x0AF7651916CD43DD8448EB211C80319C) -> list[Any]:
    ctx = trace.SpanContext(trace_id, 0xB7AD6B7169203331, True, trace.TraceFlags(1))
    context = baggage.set_baggage("tenant", "acme", trace.set_span_in_context(
        trace.NonRecordingSpan(ctx), Context()
    ))  # fmt: skip
    headers: list[Any] = [("app", b"1")]
    inject(headers, kafka_setter, context)
    return headers


class TestPoll:
    def test_empty_poll_makes_no_span(self, consumer: Any, topic: str, telemetry: Any) -> None:
        """Polls that return nothing (or only error events) leave no span and no metric."""
        consumer.assign([confluent_kafka.TopicPartition(topic, 0)])
        results = [consumer.poll(0.05) for _ in range(3)]
        assert [] == [r for r in results if r is not None and r.error() is None]
        assert [] == telemetry.spans()
        assert {} == telemetry.metrics(scope="spanwise.instrumentation.confluent_kafka")

    def test_process_span_is_child_of_producer(
        self, consumer: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """The process span continues the producer's trace and is current while handling."""
        kafka.produce_raw(topic, headers=_producer_headers())
        kafka.assign(consumer, topic)
        message = kafka.poll_one(consumer)
        current = trace.get_current_span()
        assert "acme" == baggage.get_baggage("tenant")
        consumer.close()
        span = telemetry.span(f"process {topic}")
        assert current.get_span_context().span_id == span.context.span_id
        assert trace.SpanKind.CONSUMER == span.kind
        assert 0x0AF7651916CD43DD8448EB211C80319C == span.context.trace_id
        assert 0xB7AD6B7169203331 == span.parent.span_id
        assert {
            "messaging.system": "kafka",
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": "tests",
            "messaging.destination.partition.id": "0",
            "messaging.kafka.offset": 0,
        } == dict(span.attributes)
        assert [("app", b"1")] == message.headers()[:1]

    def test_app_work_is_a_child(
        self, consumer: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A span the app starts while handling the message is a child of the process span."""
        kafka.produce_raw(topic, headers=_producer_headers())
        kafka.assign(consumer, topic)
        kafka.poll_one(consumer)
        with trace.get_tracer("app").start_as_current_span("handle"):
            pass
        consumer.poll(0.01)
        handle, process = telemetry.span("handle"), telemetry.span(f"process {topic}")
        assert process.context.span_id == handle.parent.span_id

    def test_span_ends_at_next_poll(
        self, consumer: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """The process span ends when the app polls again, and the context is given back."""
        kafka.produce_raw(topic)
        kafka.assign(consumer, topic)
        kafka.poll_one(consumer)
        assert [] == telemetry.spans()
        assert consumer.poll(0.05) is None
        assert [f"process {topic}"] == [s.name for s in telemetry.spans()]
        assert not trace.get_current_span().get_span_context().is_valid

    def test_link_option(self, instrument: Any, kafka: Any, topic: str, telemetry: Any) -> None:
        """With link=True the process span starts a new trace linked to the producer's span."""
        instrument(link=True)
        consumer = confluent_kafka.Consumer(kafka.consumer_config())
        kafka.produce_raw(topic, headers=_producer_headers())
        kafka.assign(consumer, topic)
        kafka.poll_one(consumer)
        assert "acme" == baggage.get_baggage("tenant")
        consumer.close()
        span = telemetry.span(f"process {topic}")
        assert span.parent is None
        assert [0xB7AD6B7169203331] == [link.context.span_id for link in span.links]

    def test_metrics(self, consumer: Any, kafka: Any, topic: str, telemetry: Any) -> None:
        """A poll with a message counts it and times the poll; processing time is recorded."""
        kafka.produce_raw(topic)
        kafka.assign(consumer, topic)
        kafka.poll_one(consumer)
        consumer.close()
        metrics = telemetry.metrics()
        consumed = metrics["messaging.client.consumed.messages"]
        assert [1] == [p.value for p in consumed]
        assert "poll" == consumed[0].attributes["messaging.operation.name"]
        assert [1] == [p.count for p in metrics["messaging.client.operation.duration"]]
        assert [1] == [p.count for p in metrics["messaging.process.duration"]]

    @pytest.mark.parametrize(
        "headers",
        [
            [("traceparent", b"\xff\xfe not utf-8")],
            [("traceparent", None), ("tracestate", None)],
            [
                ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                ("traceparent", b"00-11111111111111111111111111111111-2222222222222222-01"),
            ],
            [("traceparent", b"x" * 1_000_000), ("baggage", b"k=" + b"v" * 1_000_000)],
        ],
        ids=["non-utf8", "none", "duplicated", "megabyte"],
    )
    def test_hostile_headers(
        self, consumer: Any, kafka: Any, topic: str, telemetry: Any, headers: list[Any]
    ) -> None:
        """Hostile headers never raise; the app gets the message exactly as it was sent."""
        kafka.produce_raw(topic, headers=headers, value=b"payload")
        kafka.assign(consumer, topic)
        message = kafka.poll_one(consumer)
        consumer.close()
        assert headers == message.headers()
        assert b"payload" == message.value()
        assert [f"process {topic}"] == [s.name for s in telemetry.spans()]

    def test_duplicated_traceparent_uses_the_first(
        self, consumer: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """Of two traceparent headers the first one is the parent."""
        headers = [
            ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            ("traceparent", b"00-11111111111111111111111111111111-2222222222222222-01"),
        ]
        kafka.produce_raw(topic, headers=headers)
        kafka.assign(consumer, topic)
        kafka.poll_one(consumer)
        consumer.close()
        assert 0xB7AD6B7169203331 == telemetry.span(f"process {topic}").parent.span_id


class TestConsume:
    def test_span_per_message(self, consumer: Any, kafka: Any, topic: str, telemetry: Any) -> None:
        """consume() starts a process span per message, each with its own producer parent."""
        kafka.produce_raw(topic, headers=_producer_headers(1))
        kafka.produce_raw(topic, headers=_producer_headers(2))
        kafka.assign(consumer, topic)
        messages: list[Any] = []
        for _ in range(50):
            messages += consumer.consume(2, 0.2)
            if len(messages) >= 2:
                break
        consumer.close()
        assert [b"v", b"v"] == [m.value() for m in messages]
        spans = [s for s in telemetry.spans() if s.name == f"process {topic}"]
        assert [1, 2] == sorted(s.context.trace_id for s in spans)
        consumed = telemetry.metrics()["messaging.client.consumed.messages"]
        assert 2 == sum(p.value for p in consumed)


class TestDeserializingConsumer:
    def test_made_before_instrument_is_traced(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A DeserializingConsumer created before instrument() is traced, values deserialized."""
        consumer = confluent_kafka.DeserializingConsumer(
            kafka.consumer_config(**{"value.deserializer": lambda v, ctx: v.decode().upper()})
        )
        instrument()
        kafka.produce_raw(topic, headers=_producer_headers(), value=b"hello")
        kafka.assign(consumer, topic)
        message = kafka.poll_one(consumer)
        consumer.close()
        assert "HELLO" == message.value()
        assert 0xB7AD6B7169203331 == telemetry.span(f"process {topic}").parent.span_id

    def test_group_from_config(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A DeserializingConsumer created after instrument() reports its consumer group."""
        instrument()
        consumer = confluent_kafka.DeserializingConsumer(kafka.consumer_config())
        kafka.produce_raw(topic)
        kafka.assign(consumer, topic)
        kafka.poll_one(consumer)
        consumer.close()
        span = telemetry.span(f"process {topic}")
        assert "tests" == span.attributes["messaging.consumer.group.name"]
