"""Multi-process servers under spanwise-instrument: gunicorn --preload (fork) and uvicorn
--workers (spawn); every worker exports its own spans."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spanwise.core.testing import OtlpReceiver, free_port, wait_for_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APP = textwrap.dedent(
    """
    import os, time
    from opentelemetry import trace

    tracer = trace.get_tracer("forkapp")

    # The preloading master exports before forking: its connection must not leak to workers.
    with tracer.start_as_current_span("preload"):
        pass
    trace.get_tracer_provider().force_flush()

    def app(environ, start_response):
        with tracer.start_as_current_span("handle") as span:
            span.set_attribute("worker.pid", os.getpid())
            time.sleep(0.005)
        body = str(os.getpid()).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    """
)


def worker_pids(rx: OtlpReceiver) -> dict[int, int]:
    """worker.pid attribute of each received span -> its resource's process.pid."""
    found: dict[int, int] = {}
    for resource, _, span in rx.received.spans:
        for kv in span.attributes:
            if kv.key == "worker.pid":
                found[kv.value.int_value] = resource["process.pid"]
    return found


def hit(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
        return int(resp.read())


class TestGunicornPreload:
    @pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
    def test_every_worker_exports(
        self, protocol: str, tmp_path: Path, otlp: OtlpReceiver, child_env: dict[str, str]
    ) -> None:
        """Spans from all three worker pids arrive, each with its own process.pid resource."""
        (tmp_path / "forkapp.py").write_text(APP)
        port = free_port()
        endpoint = otlp.grpc_endpoint if protocol == "grpc" else otlp.http_endpoint
        child_env.update(
            OTEL_SERVICE_NAME="forkapp",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )
        bin_dir = Path(sys.executable).parent
        server = subprocess.Popen(
            [str(bin_dir / "spanwise-instrument"), "gunicorn", "--preload", "-w", "3",
             "-b", f"127.0.0.1:{port}", "--chdir", str(tmp_path), "--graceful-timeout", "5",
             "forkapp:app"],
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            wait_for_port(port, timeout=30)
            served: set[int] = set()
            deadline = time.monotonic() + 40
            with ThreadPoolExecutor(6) as pool:
                while time.monotonic() < deadline:
                    served.update(pool.map(hit, [port] * 12))
                    if len(served) >= 3 and len(worker_pids(otlp)) >= 3:
                        break
                    time.sleep(0.05)
            assert 3 == len(served)
            assert otlp.wait_for(lambda r: len(worker_pids(otlp)) >= 3, timeout=20)
            pids = worker_pids(otlp)
            assert served == set(pids)
            assert {pid: pid for pid in served} == pids
            masters = {
                res["process.pid"] for res, _, s in otlp.received.spans if s.name == "preload"
            }
            assert {server.pid} == masters
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)


ASGI_APP = textwrap.dedent(
    """
    import os
    from opentelemetry import trace

    tracer = trace.get_tracer("spawnapp")

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        with tracer.start_as_current_span("handle") as span:
            span.set_attribute("worker.pid", os.getpid())
        body = str(os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    """
)


class TestUvicornWorkers:
    def test_every_spawned_worker_exports(
        self, tmp_path: Path, otlp: OtlpReceiver, child_env: dict[str, str]
    ) -> None:
        """uvicorn --workers 2 spawns fresh interpreters: each configures itself and exports."""
        (tmp_path / "spawnapp.py").write_text(ASGI_APP)
        port = free_port()
        child_env.update(
            OTEL_SERVICE_NAME="spawnapp",
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.http_endpoint,
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )
        bin_dir = Path(sys.executable).parent
        server = subprocess.Popen(
            [str(bin_dir / "spanwise-instrument"), "uvicorn", "--workers", "2", "--host",
             "127.0.0.1", "--port", str(port), "--app-dir", str(tmp_path), "--no-access-log",
             "spawnapp:app"],
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_port(port, timeout=30)
            served: set[int] = set()
            deadline = time.monotonic() + 40
            with ThreadPoolExecutor(6) as pool:
                while time.monotonic() < deadline and len(served) < 2:
                    served.update(pool.map(hit, [port] * 12))
            assert 2 == len(served)
            assert otlp.wait_for(lambda r: set(worker_pids(otlp)) >= served, timeout=20)
            pids = worker_pids(otlp)
            assert {pid: pid for pid in served} == {pid: pids[pid] for pid in served}
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(5)
