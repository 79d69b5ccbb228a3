"""Worker processes flush before they exit: a prefork pool recycling every child loses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanwise.core import Guard
from spanwise.core.testing import read_spans
from spanwise.instrumentation.celery._process import ProcessLifecycle

HERE = Path(__file__).parent
TASKS = 4


class TestProcessLifecycle:
    def test_flush_exports_what_a_batch_processor_holds(self):
        """``flush`` pushes spans still waiting in a BatchSpanProcessor to the exporter."""
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=600_000))
        provider.get_tracer("t").start_span("held").end()
        assert () == exporter.get_finished_spans()
        ProcessLifecycle(Guard("celery"), tracer_provider=provider).on_shutdown()
        assert ["held"] == [s.name for s in exporter.get_finished_spans()]
        provider.shutdown()

    def test_a_failing_flush_is_swallowed(self):
        """A provider whose flush raises is reported, never raised into the worker."""

        class Broken:
            def force_flush(self, timeout_millis: int) -> bool:
                raise RuntimeError("collector gone")

        guard = Guard("celery")
        ProcessLifecycle(guard, tracer_provider=Broken(), meter_provider=Broken()).flush()
        assert {"celery.flush": 2} == guard.failures


@pytest.fixture
def prefork_worker(redis_server: Any, span_file: Path) -> Iterator[Celery]:
    """A ``--pool=prefork -c 1 --max-tasks-per-child=1`` worker in a subprocess."""
    broker = f"{redis_server.url}/0"
    queue = f"prefork-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "SPANWISE_TEST_BROKER": broker,
        "SPANWISE_TEST_QUEUE": queue,
        "SPANWISE_TEST_SPANS": str(span_file),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "prefork_app", "worker", "--pool=prefork",
         "-c", "1", "--max-tasks-per-child=1", "-Q", queue, "-l", "WARNING",
         "--without-heartbeat", "--without-mingle", "--without-gossip",
         "-n", f"{queue}@localhost"],
        cwd=str(HERE), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    client = Celery("prefork-client", broker=broker, backend=broker, set_as_current=False)
    client.conf.update(task_default_queue=queue)
    try:
        yield client
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_for_processes(span_file: Path, count: int, timeout: float = 60.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [s for s in read_spans(span_file) if s.name == "process prefork.pid"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


class TestPreforkWorker:
    @pytest.mark.e2e
    def test_every_recycled_child_delivers_its_span(
        self, prefork_worker, span_file, instrumented, telemetry
    ):
        """Each task runs in a fresh child that exits after it; every span arrives, in the
        caller's trace, without the app module doing anything per process."""
        results = [prefork_worker.send_task("prefork.pid", (i,)) for i in range(TASKS)]
        ran = [r.get(timeout=60) for r in results]
        assert list(range(TASKS)) == [x for x, _ in ran]
        assert TASKS == len({pid for _, pid in ran})  # one child per task: recycled each time
        processes = _wait_for_processes(span_file, TASKS)
        sends = {s.context.span_id: s for s in telemetry.spans() if s.name == "send prefork.pid"}
        assert TASKS == len(processes)
        assert set(sends) == {p.parent_span_id for p in processes}
        assert all(sends[p.parent_span_id].context.trace_id == p.trace_id for p in processes)
