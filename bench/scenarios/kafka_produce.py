"""One confluent-kafka Producer.produce() of a small message to the librdkafka mock cluster,
followed by poll(0) to serve delivery reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "kafka_produce"
CONTRIB = "opentelemetry.instrumentation.confluent_kafka"
HANDMADE = True

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
    elif variant not in ("bare", "handmade"):
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

    if variant == "handmade":
        once = _by_hand(produce, poll)
    for _ in range(500):
        once()
    producer.flush(10)
    return once


def _by_hand(produce: Any, poll: Any) -> Callable[[], object]:
    """The same span, context headers and metric points as Spanwise's, at the call site."""
    import _handmade
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind

    tracer = _handmade.tracer()
    meter = _handmade.meter()
    duration = _handmade.histogram("messaging.client.operation.duration")
    sent = meter.create_counter("messaging.client.sent.messages", unit="{message}")
    metric_attrs = {
        "messaging.system": "kafka",
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.destination.name": "bench",
    }
    span_attrs = {**metric_attrs, "messaging.destination.partition.id": "0"}
    failed_attrs = {**metric_attrs, "error.type": "KafkaError"}
    inject, in_context, setter = propagate.inject, trace.set_span_in_context, _handmade.LIST_SETTER
    perf_counter = _handmade.perf_counter

    def delivered(err: Any, msg: Any) -> None:
        sent.add(1, metric_attrs if err is None else failed_attrs)

    def once() -> object:
        span = tracer.start_span("send bench", kind=SpanKind.PRODUCER, attributes=span_attrs)
        headers = [("app", b"1")]
        inject(headers, in_context(span), setter)
        start = perf_counter()
        try:
            produce("bench", b"value", partition=0, headers=headers, on_delivery=delivered)
        finally:
            span.end()
            duration.record(perf_counter() - start, metric_attrs)
        return poll(0)

    return once


def teardown() -> None:
    global _producer
    if _producer is not None:
        _producer.flush(10)
        _producer = None
