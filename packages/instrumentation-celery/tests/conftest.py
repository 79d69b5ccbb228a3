"""A Celery app on the real Redis broker, and an in-process (thread pool) worker consuming it."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.celery import CeleryInstrumentor


def make_app(broker: str, queue: str) -> Celery:
    """A Celery app with the test tasks, on its own queue so runs never see each other."""
    app = Celery("spanwise_celery_tests", broker=broker, backend=broker, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        broker_connection_retry_on_startup=True,
        result_expires=60,
        worker_hijack_root_logger=False,
    )

    @app.task(name="tests.add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="tests.boom")
    def boom() -> None:
        raise ValueError("boom")

    @app.task(name="tests.flaky", bind=True, max_retries=3, default_retry_delay=0)
    def flaky(self: Any, failures: int) -> int:
        if self.request.retries < failures:
            raise self.retry(exc=KeyError("not yet"), countdown=0)
        return int(self.request.retries)

    @app.task(name="tests.tsum")
    def tsum(values: list[int]) -> int:
        return sum(values)

    @app.task(name="tests.linked", spanwise_link=True)
    def linked() -> str:
        return "linked"

    @app.task(name="tests.parented", spanwise_link=False)
    def parented() -> str:
        return "parented"

    @app.task(name="tests.headers", bind=True)
    def headers(self: Any, *keys: str) -> dict[str, Any]:
        return {key: getattr(self.request, key, None) for key in keys}

    return app


@pytest.fixture(scope="session")
def celery_app(redis_server: Any) -> Iterator[Celery]:
    """The test app on the session's redis-server (database 0, a queue of its own)."""
    app = make_app(f"{redis_server.url}/0", f"spanwise-{uuid.uuid4().hex[:8]}")
    yield app
    gc.collect()  # results unsubscribe when collected: do it while redis-server still runs
    app.close()


@pytest.fixture(scope="session")
def celery_worker(celery_app: Celery) -> Iterator[Any]:
    """A real worker in this process: thread pool of 2, consuming the app's queue."""
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=20,
    ) as worker:
        yield worker


@pytest.fixture
def instrumented(telemetry: CapturedTelemetry) -> Iterator[CeleryInstrumentor]:
    """The plugin instrumented (defaults) for one test, uninstrumented after."""
    inst = CeleryInstrumentor()
    inst.instrument()
    try:
        yield inst
    finally:
        inst.uninstrument()


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait until *predicate* holds: worker spans end just after the result is stored."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def spans_named(telemetry: CapturedTelemetry, name: str, count: int = 1) -> list[Any]:
    """Wait for *count* finished spans called *name* and return them (oldest first)."""
    wait_for(lambda: len([s for s in telemetry.spans() if s.name == name]) >= count)
    return [s for s in telemetry.spans() if s.name == name]


@pytest.fixture
def finished(telemetry: CapturedTelemetry) -> Callable[..., list[Any]]:
    """``finished(name, count=1)``: wait for that many finished spans called *name*."""
    return lambda name, count=1: spans_named(telemetry, name, count)
