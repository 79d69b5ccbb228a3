"""API gateway (Flask): the public /api/checkout, forwarded to the checkout service."""

from __future__ import annotations

from typing import Any

import requests
from demo_common import configure_logging, env
from flask import Flask, Response, request

log = configure_logging("gateway")
app = Flask(__name__)
session = requests.Session()
CHECKOUT_URL = env("CHECKOUT_URL", "http://127.0.0.1:8001")


@app.post("/api/checkout")
def api_checkout() -> Any:
    cart = request.get_json(force=True)
    log.info("checkout_received", user_id=cart.get("user_id"), items=len(cart.get("items", [])))
    upstream = session.post(f"{CHECKOUT_URL}/checkout", json=cart, timeout=10)
    level = log.error if upstream.status_code >= 500 else log.info
    level("checkout_answered", status=upstream.status_code)
    return Response(upstream.content, upstream.status_code, content_type="application/json")


@app.get("/healthz")
def healthz() -> Any:
    return {"ok": True}
