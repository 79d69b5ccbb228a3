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
import time
import uuid
from collections.abc import Callable
from typing import Any

NAME = "celery_task"
CONTRIB = "opentelemetry.instrumentation.celery"
HANDMADE = True

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

    if variant == "handmade":
        telemetry = _Handmade(queue)

        @app.task(name="bench.add", shared=False, bind=True)
        def add(task: Any, x: int, y: int) -> int:
            return telemetry.run(task, x, y)

        send: Callable[[], object] = lambda: telemetry.apply_async(add)  # noqa: E731
    else:

        @app.task(name="bench.add", shared=False)
        def add(x: int, y: int) -> int:
            return x + y

        send = lambda: add.apply_async((1, 2))  # noqa: E731

    app.finalize()
    connection = _stack.enter_context(app.connection_for_read())
    inbox = _stack.enter_context(connection.SimpleQueue(queue))

    def op() -> Any:
        send()
        message = inbox.get(timeout=5)
        return Request(message, app=app, task=add, hostname="bench@localhost").execute()

    for _ in range(50):  # warm up: connections, the task's tracer
        op()
    return op


class _Handmade:
    """The same spans, context headers and metric points as Spanwise's: the producer's at the
    call site, the consumer's inside the task."""

    def __init__(self, queue: str) -> None:
        import _handmade
        from opentelemetry.trace import SpanKind

        self.tracer = _handmade.tracer()
        meter = _handmade.meter()
        self.publish_duration = _handmade.histogram("messaging.client.operation.duration")
        self.sent = meter.create_counter("messaging.client.sent.messages", unit="{message}")
        self.process_duration = _handmade.histogram("messaging.process.duration")
        self.executions = meter.create_counter("celery.task.executions", unit="{execution}")
        self.wait = _handmade.histogram(
            "celery.task.wait.duration",
            (*_handmade.DURATION_BUCKETS, 30.0, 60.0, 120.0, 300.0, 600.0),
        )
        common = {"messaging.system": "celery", "messaging.destination.name": queue}
        self.send_attrs = {
            **common,
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
        }
        self.process_attrs = {
            **common,
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
        }
        self.task_attrs = {"celery.task.name": "bench.add", "messaging.destination.name": queue}
        self.success_attrs = {**self.task_attrs, "celery.task.outcome": "success"}
        self.producer, self.consumer = SpanKind.PRODUCER, SpanKind.CONSUMER

    def apply_async(self, task: Any) -> object:
        from celery.utils import uuid
        from opentelemetry import propagate, trace

        task_id = uuid()
        span = self.tracer.start_span(
            "send bench.add",
            kind=self.producer,
            attributes={
                **self.send_attrs,
                "messaging.message.id": task_id,
                "celery.task.name": "bench.add",
            },
        )
        headers: dict[str, Any] = {"bench_sent_at": time.time()}
        propagate.inject(headers, trace.set_span_in_context(span))
        start = time.perf_counter()
        try:
            return task.apply_async((1, 2), task_id=task_id, headers=headers)
        finally:
            span.end()
            self.publish_duration.record(time.perf_counter() - start, self.send_attrs)
            self.sent.add(1, self.send_attrs)

    def run(self, task: Any, x: int, y: int) -> int:
        from opentelemetry import context, propagate, trace

        request = task.request
        carrier = vars(request)
        parent = propagate.extract(carrier)
        span = self.tracer.start_span(
            "process bench.add",
            parent,
            kind=self.consumer,
            attributes={
                **self.process_attrs,
                "messaging.message.id": request.id,
                "celery.task.name": "bench.add",
                "celery.task.retries": request.retries,
            },
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        self.wait.record(time.time() - carrier["bench_sent_at"], self.task_attrs)
        start = time.perf_counter()
        try:
            return x + y
        finally:
            span.end()
            context.detach(token)
            self.process_duration.record(time.perf_counter() - start, self.process_attrs)
            self.executions.add(1, self.success_attrs)


def teardown() -> None:
    _stack.close()
