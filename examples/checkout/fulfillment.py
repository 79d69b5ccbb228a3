"""Fulfillment: consumes order events from Kafka and queues the confirmation task (Celery)."""

from __future__ import annotations

import json
import signal
from typing import Any

from confluent_kafka import Consumer
from demo_common import configure_logging, env

log = configure_logging("fulfillment")
running = True


def stop(*_: Any) -> None:
    global running
    running = False


def main() -> None:
    signal.signal(signal.SIGTERM, stop)
    send_confirmation: Any = None
    if env("REDIS_URL"):
        from tasks import send_confirmation
    consumer = Consumer(
        {
            "bootstrap.servers": env("KAFKA_BOOTSTRAP"),
            "group.id": "fulfillment",
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    consumer.subscribe(["order_events"])
    while running:
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        event = json.loads(message.value())
        log.info("order_event_received", order_id=event["order_id"])
        if send_confirmation is not None:
            send_confirmation.delay(event["order_id"], event["total_cents"])
    consumer.close()


if __name__ == "__main__":
    main()
