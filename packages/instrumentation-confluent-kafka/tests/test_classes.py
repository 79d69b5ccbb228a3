"""spanwise.instrumentation.confluent_kafka._classes."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import cimpl

from spanwise.instrumentation.confluent_kafka._classes import Consumer, Producer


class TestSubclasses:
    def test_isinstance_answers_for_the_c_type(self, kafka: Any) -> None:
        """Any C producer is an instance of our Producer class; a consumer is not."""
        plain = cimpl.Producer(kafka.producer_config())
        assert isinstance(plain, Producer)
        assert not isinstance(plain, Consumer)
        assert issubclass(cimpl.Producer, Producer)

    def test_app_subclass_is_strict(self, kafka: Any) -> None:
        """An app subclass of our class keeps ordinary isinstance semantics."""

        class AppProducer(Producer):
            pass

        assert not isinstance(cimpl.Producer(kafka.producer_config()), AppProducer)
        assert isinstance(AppProducer(kafka.producer_config()), AppProducer)

    def test_state_from_config(self, kafka: Any) -> None:
        """Our classes remember group and client id from their config."""
        consumer = Consumer(kafka.consumer_config(**{"client.id": "c1"}))
        try:
            assert ("tests", "c1") == (
                consumer._spanwise_kafka.group, consumer._spanwise_kafka.client_id
            )  # fmt: skip
        finally:
            consumer.close()

    def test_bad_config_raises_as_before(self) -> None:
        """A config the C type rejects raises the same exception type."""
        with pytest.raises(cimpl.KafkaException):
            Producer({"no.such.setting": 1})
        with pytest.raises(cimpl.KafkaException):
            cimpl.Producer({"no.such.setting": 1})

    def test_names(self) -> None:
        """The classes present themselves as confluent_kafka.Producer/Consumer."""
        assert ("confluent_kafka", "Producer") == (Producer.__module__, Producer.__qualname__)
        assert ("confluent_kafka", "Consumer") == (Consumer.__module__, Consumer.__qualname__)
