"""Celery's prefork pool under spanwise-instrument: every forked pool process exports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from spanwise.core.testing import OtlpReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TASKS = textwrap.dedent(
    """
    import os, time
    from celery import Celery
    from opentelemetry import trace

    app = Celery("forktasks", broker=os.environ["BROKER_URL"], backend=os.environ["BROKER_URL"])
    tracer = trace.get_tracer("forktasks")

    @app.task(name="forktasks.whoami")
    def whoami():
        with tracer.start_as_current_span("whoami") as span:
            span.set_attribute("worker.pid", os.getpid())
            time.sleep(0.2)
        return os.getpid()
    """
)


def worker_pids(rx: OtlpReceiver) -> dict[int, int]:
    found: dict[int, int] = {}
    for resource, _, span in rx.received.spans:
        for kv in span.attributes:
            if kv.key == "worker.pid":
                found[kv.value.int_value] = resource["process.pid"]
    return found


class TestCeleryPrefork:
    def test_every_pool_process_exports(
        self,
        tmp_path: Path,
        otlp: OtlpReceiver,
        child_env: dict[str, str],
        redis_server: Any,
    ) -> None:
        """Tasks run in two forked pool processes; spans from both arrive with their pid."""
        (tmp_path / "forktasks.py").write_text(TASKS)
        broker = f"{redis_server.url}/7"
        child_env.update(
            BROKER_URL=broker,
            OTEL_SERVICE_NAME="forktasks",
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.http_endpoint,
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )
        bin_dir = Path(sys.executable).parent
        worker = subprocess.Popen(
            [str(bin_dir / "spanwise-instrument"), "celery", "-A", "forktasks", "worker",
             "--pool", "prefork", "-c", "2", "--without-heartbeat", "--without-gossip",
             "--without-mingle", "-l", "warning"],
            env=child_env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            from celery import Celery

            client = Celery("client", broker=broker, backend=broker)
            served: set[int] = set()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(served) < 2:
                results = [client.send_task("forktasks.whoami") for _ in range(6)]
                served.update(int(r.get(timeout=30)) for r in results)
            assert 2 == len(served)
            assert otlp.wait_for(lambda r: set(worker_pids(otlp)) >= served, timeout=20)
            pids = worker_pids(otlp)
            assert {pid: pid for pid in served} == {pid: pids[pid] for pid in served}
        finally:
            worker.terminate()
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(5)
