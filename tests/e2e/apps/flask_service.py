"""The first hop of the e2e chain: Flask (served by gunicorn) calling FastAPI with requests."""

import os

from spanwise.core.testing import install_jsonl_export
from spanwise.instrumentation.flask import FlaskInstrumentor
from spanwise.instrumentation.requests import RequestsInstrumentor

install_jsonl_export(os.environ["SPANWISE_SPAN_FILE"], service_name="flask-service")
FlaskInstrumentor().instrument()
RequestsInstrumentor().instrument()

import flask  # noqa: E402 - after instrument(), on purpose
import requests  # noqa: E402

app = flask.Flask(__name__)
FASTAPI = os.environ["E2E_FASTAPI_URL"]


@app.route("/checkout/<int:order_id>")
def checkout(order_id: int) -> object:
    order = requests.get(f"{FASTAPI}/orders/{order_id}", timeout=10).json()
    return {"checkout": order_id, "order": order}
