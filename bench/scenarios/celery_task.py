"""One task through Redis: apply_async, then the worker's own Request.execute in this thread.

Why not a worker thread: its hand-offs (consumer loop, pool, result wait) make each round trip
5-8 ms with +-3 ms of noise, fifty times the instrumentation overhead. Here the message is
published to Redis, fetched back with kombu and executed exactly as a worker does
(``celery.worker.request.Request.execute``: headers into the request, the task signals,
``trace_task``), all in the timing thread, so the overhead of both sides is measurable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

NAME = "celery_task"
CONTRIB = "opentelemetry.instrumentation.celery"

_stack = contextlib.ExitStack()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_port() -> int:
    """The runner's redis-server, or one of our own for the life of this process."""
    given = os.environ.get("SPANWISE_BENCH_REDIS_PORT")
    if given:
        return int(given)
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def stop() -> None:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    _stack.callback(stop)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return port
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make(variant: str) -> Callable[[], object]:
    if variant == "contrib":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor as Contrib

        Contrib().instrument()
    elif variant == "spanwise":
        from spanwise.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()

    from celery import Celery
    from celery.worker.request import Request

    url = f"redis://127.0.0.1:{_redis_port()}/0"
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    app = Celery("bench_celery", broker=url, set_as_current=False)
    app.conf.update(task_default_queue=queue, task_ignore_result=True)

    @app.task(name="bench.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    app.finalize()
    connection = _stack.enter_context(app.connection_for_read())
    inbox = _stack.enter_context(connection.SimpleQueue(queue))
    _stack.callback(inbox.clear)

    def op() -> Any:
        add.apply_async((1, 2))
        message = inbox.get(timeout=5)
        return Request(message, app=app, task=add, hostname="bench@localhost").execute()

    for _ in range(50):  # warm up: connections, the task's tracer
        op()
    return op


def teardown() -> None:
    _stack.close()
