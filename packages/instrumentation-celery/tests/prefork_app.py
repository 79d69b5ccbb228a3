"""The app module a prefork worker subprocess runs (``celery -A prefork_app worker``).

It configures tracing the way a service would, with a ``BatchSpanProcessor`` whose schedule
is far longer than the test: spans reach the file only when something flushes them. Nothing
here touches ``worker_process_init`` or ``worker_process_shutdown``: the plugin must do it.
"""

from __future__ import annotations

import os

from celery import Celery
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from spanwise.core.testing import JsonLinesSpanExporter
from spanwise.instrumentation.celery import CeleryInstrumentor

provider = TracerProvider(resource=Resource.create({"service.name": "prefork-worker"}))
provider.add_span_processor(
    BatchSpanProcessor(
        JsonLinesSpanExporter(os.environ["SPANWISE_TEST_SPANS"]),
        schedule_delay_millis=600_000,
    )
)
trace.set_tracer_provider(provider)
CeleryInstrumentor().instrument()

broker = os.environ["SPANWISE_TEST_BROKER"]
app = Celery("prefork_app", broker=broker, backend=broker)
app.conf.update(task_default_queue=os.environ["SPANWISE_TEST_QUEUE"], result_expires=60)


@app.task(name="prefork.pid")
def pid(x: int) -> list[int]:
    """Returns its input and the pid of the pool child that ran it."""
    return [x, os.getpid()]
