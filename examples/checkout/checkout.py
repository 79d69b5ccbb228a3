"""Checkout service (FastAPI): validates the cart, checks stock, writes the order (SQLAlchemy),
asks the fraud scorer, caches the order (Redis) and publishes an order event (Kafka)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests
import sqlalchemy as sa
from demo_common import configure_logging, env
from fastapi import FastAPI, HTTPException
from opentelemetry import trace
from pydantic import BaseModel

log = configure_logging("checkout")
tracer = trace.get_tracer("checkout")
app = FastAPI()
http = requests.Session()
INVENTORY_URL = env("INVENTORY_URL", "http://127.0.0.1:8002")
FRAUD_TIMEOUT_S = float(env("DEMO_FRAUD_TIMEOUT", "1.0"))

engine = sa.create_engine(f"sqlite:///{env('DEMO_DB', 'orders.db')}")


@sa.event.listens_for(engine, "connect")
def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL: concurrent checkouts do not queue behind each other's fsync.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")


meta = sa.MetaData()
orders = sa.Table(
    "orders",
    meta,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("user_id", sa.String),
    sa.Column("total_cents", sa.Integer),
)
meta.create_all(engine)

cache: Any = None
if env("REDIS_URL"):
    import redis

    cache = redis.Redis.from_url(env("REDIS_URL"))

producer: Any = None
if env("KAFKA_BOOTSTRAP"):
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": env("KAFKA_BOOTSTRAP"), "linger.ms": 5, "log_level": 0}
    )


class Item(BaseModel):
    sku: str
    qty: int
    price_cents: int


class Cart(BaseModel):
    user_id: str
    items: list[Item]


def check_fraud_score(order_id: str) -> HTTPException | None:
    """Ask the fraud scorer; a timeout or an outage fails the checkout (no circuit breaker:
    the incident)."""
    with tracer.start_as_current_span("check_fraud_score") as span:
        try:
            answer = http.post(
                f"{INVENTORY_URL}/fraud/score/", json={"order": order_id}, timeout=FRAUD_TIMEOUT_S
            )
        except requests.Timeout:
            span.set_status(trace.StatusCode.ERROR, "timeout")
            log.error("fraud_check_timed_out", order_id=order_id, timeout_s=FRAUD_TIMEOUT_S)
            return HTTPException(504, "fraud check timed out")
        if answer.status_code >= 500:
            span.set_status(trace.StatusCode.ERROR, f"provider answered {answer.status_code}")
            log.error(
                "fraud_check_failed",
                order_id=order_id,
                status=answer.status_code,
                retry_after=answer.headers.get("Retry-After"),
            )
            return HTTPException(502, "fraud provider unavailable")
    return None


@app.post("/checkout")
def checkout(cart: Cart) -> dict[str, Any]:
    with tracer.start_as_current_span("validate_cart") as span:
        span.set_attribute("order.item_count", len(cart.items))
        if not cart.items:
            raise HTTPException(400, "empty cart")
    with tracer.start_as_current_span("check_inventory"):
        for item in cart.items:
            http.get(f"{INVENTORY_URL}/inventory/{item.sku}/", timeout=5).raise_for_status()
    with tracer.start_as_current_span("calculate_tax"):
        total = sum(i.qty * i.price_cents for i in cart.items)
        total += total * 8 // 100
    order_id = uuid.uuid4().hex[:12]
    with tracer.start_as_current_span("create_order") as span:
        span.set_attribute("order.id", order_id)
        span.set_attribute("order.total_cents", total)
        with engine.begin() as conn:
            conn.execute(
                orders.insert().values(id=order_id, user_id=cart.user_id, total_cents=total)
            )
        failure = check_fraud_score(order_id)
        if failure is not None:
            trace.get_current_span().set_status(trace.StatusCode.ERROR, failure.detail)
            raise failure
    if cache is not None:
        cache.set(f"order:{order_id}", total, ex=3600)
    if producer is not None:
        event = {"order_id": order_id, "user_id": cart.user_id, "total_cents": total}
        producer.produce("order_events", json.dumps(event).encode(), key=order_id.encode())
        producer.poll(0)
    log.info("order_created", order_id=order_id, total_cents=total)
    return {"order_id": order_id, "total_cents": total}


@app.on_event("shutdown")
def flush() -> None:
    if producer is not None:
        producer.flush(5)
