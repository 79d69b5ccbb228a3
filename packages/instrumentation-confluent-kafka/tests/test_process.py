"""spanwise.instrumentation.confluent_kafka._process."""

from __future__ import annotations

from typing import Any

import confluent_kafka
import pytest
from opentelemetry import trace

from spanwise.instrumentation.confluent_kafka import process_message

_PARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class TestProcessMessage:
    def test_reuses_the_polled_span(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """Scoping a polled message ends its one process span at the end of the block."""
        instrument()
        consumer = confluent_kafka.Consumer(kafka.consumer_config())
        kafka.produce_raw(topic, headers=[("traceparent", _PARENT)])
        kafka.assign(consumer, topic)
        message = kafka.poll_one(consumer)
        with process_message(message) as span:
            assert span is trace.get_current_span()
        assert [f"process {topic}"] == [s.name for s in telemetry.spans()]
        assert not trace.get_current_span().get_span_context().is_valid
        consumer.close()
        assert 1 == len(telemetry.spans())
        assert 0xB7AD6B7169203331 == telemetry.spans()[0].parent.span_id

    def test_exception_is_recorded_and_propagates(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """An exception from the block marks the span as an error and reaches the app."""
        instrument()
        consumer = confluent_kafka.Consumer(kafka.consumer_config())
        kafka.produce_raw(topic)
        kafka.assign(consumer, topic)
        message = kafka.poll_one(consumer)
        with pytest.raises(KeyError, match="bad"), process_message(message):
            raise KeyError("bad")
        consumer.close()
        span = telemetry.span(f"process {topic}")
        assert trace.StatusCode.ERROR == span.status.status_code
        assert "KeyError" == span.attributes["error.type"]
        process = telemetry.metrics()["messaging.process.duration"]
        assert ["KeyError"] == [p.attributes.get("error.type") for p in process]

    def test_message_from_an_untraced_consumer(
        self, instrument: Any, kafka: Any, topic: str, telemetry: Any
    ) -> None:
        """A message read by an untraced C consumer gets a process span from its headers."""
        consumer = confluent_kafka.cimpl.Consumer(kafka.consumer_config())
        instrument()
        kafka.produce_raw(topic, headers=[("traceparent", _PARENT)])
        kafka.assign(consumer, topic)
        message = kafka.poll_one(consumer)
        consumer.close()
        assert [] == telemetry.spans()
        with process_message(message):
            pass
        assert 0xB7AD6B7169203331 == telemetry.span(f"process {topic}").parent.span_id

    def test_not_instrumented(self, kafka: Any, topic: str, telemetry: Any) -> None:
        """Without instrument() the block runs with a non-recording span and no telemetry."""
        consumer = confluent_kafka.Consumer(kafka.consumer_config())
        kafka.produce_raw(topic)
        kafka.assign(consumer, topic)
        message = kafka.poll_one(consumer)
        consumer.close()
        with process_message(message) as span:
            assert not span.is_recording()
        assert [] == telemetry.spans()
