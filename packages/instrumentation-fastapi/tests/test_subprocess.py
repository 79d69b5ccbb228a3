"""FastAPIInstrumentor in a uvicorn subprocess, its spans read back from a JSON-lines file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spanwise.core.testing import free_port, read_spans, wait_for_port

APP = textwrap.dedent(
    """
    import os

    from spanwise.core.testing import install_jsonl_export

    install_jsonl_export(os.environ["SPAN_FILE"], service_name="fastapi-service")

    from spanwise.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor().instrument()

    from fastapi import FastAPI

    app = FastAPI()


    @app.get("/orders/{order_id}")
    async def order(order_id: int):
        return {"order_id": order_id}
    """
)


@pytest.fixture
def uvicorn_process(tmp_path: Path, span_file: Path) -> Iterator[str]:
    """`python -m uvicorn` serving the app module above on a free loopback port."""
    (tmp_path / "service_app.py").write_text(APP)
    port = free_port()
    env = {**os.environ, "SPAN_FILE": str(span_file)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class TestUvicornSubprocess:
    """A separately started uvicorn process, instrumented at import of its app module."""

    def test_request_joins_the_callers_trace(self, uvicorn_process: str, span_file: Path) -> None:
        """The server span continues the caller's trace and carries the route template."""
        trace_id, parent_id = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
        response = httpx.get(
            f"{uvicorn_process}/orders/42",
            headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
            timeout=10,
        )
        for _ in range(200):
            spans = read_spans(span_file)
            if spans:
                break
            time.sleep(0.025)
        assert {"order_id": 42} == response.json()
        assert [("GET /orders/{order_id}", "SERVER", int(trace_id, 16), int(parent_id, 16))] == [
            (s.name, s.kind, s.trace_id, s.parent_span_id) for s in spans
        ]
        assert "/orders/{order_id}" == spans[0].attributes["http.route"]
