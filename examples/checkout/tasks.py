"""Celery tasks of the shop: confirmation e-mails, sent by a worker on the Redis broker."""

from __future__ import annotations

from celery import Celery
from demo_common import configure_logging, env

log = configure_logging("worker")
app = Celery("checkout_demo", broker=env("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True)


@app.task(name="send_confirmation")
def send_confirmation(order_id: str, total_cents: int) -> None:
    log.info("confirmation_sent", order_id=order_id, total_cents=total_cents)
