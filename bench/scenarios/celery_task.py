"""One task: apply_async through kombu's in-memory broker, then the worker's Request.execute.

Why this shape and not a worker thread on Redis: the thread hand-offs (consumer loop, pool,
result wait) and the Redis round trips made each operation 2-8 ms with +-3 ms of noise on a
busy machine, far more than the instrumentation overhead being measured. Here everything is
real Celery and kombu code and runs in the timing thread: the message is serialized and
published (``Task.apply_async`` -> ``Celery.send_task`` -> ``before_task_publish``), fetched
back with kombu, and executed exactly as a worker does (``celery.worker.request.Request.execute``:
headers into the request, the task signals, ``trace_task``). Both sides of the trace hop, the
PRODUCER and the CONSUMER span, are in every operation.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

NAME = "celery_task"
CONTRIB = "opentelemetry.instrumentation.celery"

_stack = contextlib.ExitStack()


def make(variant: str) -> Callable[[], object]:
    if variant == "contrib":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor as Contrib

        Contrib().instrument()
    elif variant == "spanwise":
        from spanwise.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()

    from celery import Celery
    from celery.worker.request import Request

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    app = Celery("bench_celery", broker="memory://", set_as_current=False)
    app.conf.update(task_default_queue=queue, task_ignore_result=True)

    @app.task(name="bench.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    app.finalize()
    connection = _stack.enter_context(app.connection_for_read())
    inbox = _stack.enter_context(connection.SimpleQueue(queue))

    def op() -> Any:
        add.apply_async((1, 2))
        message = inbox.get(timeout=5)
        return Request(message, app=app, task=add, hostname="bench@localhost").execute()

    for _ in range(50):  # warm up: connections, the task's tracer
        op()
    return op


def teardown() -> None:
    _stack.close()
