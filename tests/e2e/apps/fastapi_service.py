"""The middle hop of the e2e chain: FastAPI (served by uvicorn) calling Django with requests."""

import os

from spanwise.core.testing import install_jsonl_export
from spanwise.instrumentation.fastapi import FastAPIInstrumentor
from spanwise.instrumentation.requests import RequestsInstrumentor

install_jsonl_export(os.environ["SPANWISE_SPAN_FILE"], service_name="fastapi-service")
FastAPIInstrumentor().instrument()
RequestsInstrumentor().instrument()

import requests  # noqa: E402 - after instrument(), on purpose
from fastapi import FastAPI  # noqa: E402

app = FastAPI()
DJANGO = os.environ["E2E_DJANGO_URL"]


@app.get("/orders/{order_id}")
def order(order_id: int) -> dict[str, object]:
    # A sync endpoint: FastAPI runs it in its thread pool, with the request's context.
    item = requests.get(f"{DJANGO}/items/{order_id}/", timeout=10).json()
    return {"order": order_id, "item": item}
