"""One confluent-kafka Producer.produce() of a small message to the librdkafka mock cluster,
followed by poll(0) to serve delivery reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "kafka_produce"
CONTRIB = "opentelemetry.instrumentation.confluent_kafka"

_producer: Any = None


def make(variant: str) -> Callable[[], object]:
    global _producer
    if variant == "contrib":
        from opentelemetry.instrumentation.confluent_kafka import (
            ConfluentKafkaInstrumentor as Contrib,
        )

        Contrib().instrument()
    elif variant == "spanwise":
        from spanwise.instrumentation.confluent_kafka import ConfluentKafkaInstrumentor

        ConfluentKafkaInstrumentor().instrument()
    elif variant != "bare":
        raise ValueError(f"unknown variant {variant!r}")
    import confluent_kafka  # the instrumentors swap the class: build the client after

    producer = confluent_kafka.Producer(
        {
            "test.mock.num.brokers": 1,
            "log_level": 0,
            "linger.ms": 5,
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 2_000_000,
        }
    )
    _producer = producer
    produce, poll = producer.produce, producer.poll

    def once() -> object:
        produce("bench", b"value", partition=0, headers=[("app", b"1")])
        return poll(0)

    for _ in range(500):
        once()
    producer.flush(10)
    return once


def teardown() -> None:
    global _producer
    if _producer is not None:
        _producer.flush(10)
        _producer = None
