"""A librdkafka mock cluster on 127.0.0.1, unique topics, and the instrumentor fixture."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka import cimpl

from spanwise.instrumentation.confluent_kafka import ConfluentKafkaInstrumentor


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    """``host:port`` of a one-broker mock cluster, alive for the whole session.

    The cluster lives inside the (uninstrumented, original C) client that enabled it; other
    clients, in this process or another, reach it over loopback like a real broker.
    """
    holder = cimpl.Producer({"test.mock.num.brokers": 1, "log_level": 0})
    brokers = holder.list_topics(timeout=10).brokers
    broker = next(iter(brokers.values()))
    yield f"{broker.host}:{broker.port}"
    holder.flush(5)


@pytest.fixture
def topic() -> str:
    """A topic name no other test uses (the mock cluster creates it on first use)."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def instrument(telemetry: Any) -> Iterator[Callable[..., ConfluentKafkaInstrumentor]]:
    """Call to instrument confluent-kafka with options; uninstrumented after the test."""
    instrumentor = ConfluentKafkaInstrumentor()

    def apply(**options: Any) -> ConfluentKafkaInstrumentor:
        instrumentor.instrument(**options)
        return instrumentor

    yield apply
    instrumentor.uninstrument()


class KafkaKit:
    """Helpers bound to the mock cluster (a fixture, since test modules cannot import conftest)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def producer_config(self, **extra: Any) -> dict[str, Any]:
        """Producer settings for the mock cluster."""
        return {"bootstrap.servers": self.bootstrap, "linger.ms": 0, "log_level": 0, **extra}

    def consumer_config(self, **extra: Any) -> dict[str, Any]:
        """Consumer settings for the mock cluster (partitions are assigned, not subscribed)."""
        return {
            "bootstrap.servers": self.bootstrap,
            "group.id": "tests",
            "enable.auto.commit": False,
            "log_level": 0,
            **extra,
        }

    @staticmethod
    def assign(consumer: Any, topic: str) -> None:
        """Read partition 0 of *topic* from the beginning (tests produce to partition 0)."""
        consumer.assign(
            [confluent_kafka.TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)]
        )

    @staticmethod
    def poll_one(consumer: Any, deadline: float = 15.0) -> Any:
        """The next message (not an error event) from *consumer*, waiting at most *deadline* s."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                return message
        raise AssertionError("no message arrived in time")

    def produce_raw(self, topic: str, headers: Any = None, value: bytes = b"v") -> None:
        """Produce one message to partition 0 with an uninstrumented C producer, and flush."""
        producer = cimpl.Producer(self.producer_config(**{"message.max.bytes": 4_000_000}))
        producer.produce(topic, value=value, key=b"k", partition=0, headers=headers)
        assert 0 == producer.flush(10)


@pytest.fixture(scope="session")
def kafka(bootstrap: str) -> KafkaKit:
    """:class:`KafkaKit` for the session's mock cluster."""
    return KafkaKit(bootstrap)
