"""End to end: Flask (gunicorn) --requests--> FastAPI (uvicorn) --requests--> Django (gunicorn).

Three processes, each instrumented at import time and writing its spans to one JSON-lines
file; one request to Flask must give one trace whose parent chain crosses all three.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from spanwise.core.testing import SpanRecord, free_port, read_spans, wait_for_port

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.e2e


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        cwd=APPS,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def services(span_file: Path) -> Iterator[str]:
    """The three services on free loopback ports; yields the Flask service's URL."""
    django_port, fastapi_port, flask_port = free_port(), free_port(), free_port()
    common = {"SPANWISE_SPAN_FILE": str(span_file)}
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "sync", "--chdir", str(APPS)]
    procs = [
        _start([*gunicorn, "-b", f"127.0.0.1:{django_port}", "django_service:application"],
               common),
        _start([sys.executable, "-m", "uvicorn", "fastapi_service:app", "--host", "127.0.0.1",
                "--port", str(fastapi_port), "--workers", "1", "--log-level", "warning"],
               {**common, "E2E_DJANGO_URL": f"http://127.0.0.1:{django_port}"}),
        _start([*gunicorn, "-b", f"127.0.0.1:{flask_port}", "flask_service:app"],
               {**common, "E2E_FASTAPI_URL": f"http://127.0.0.1:{fastapi_port}"}),
    ]  # fmt: skip
    try:
        for port in (django_port, fastapi_port, flask_port):
            wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{flask_port}"
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _chain(spans: list[SpanRecord]) -> list[tuple[str, str]]:
    """(service, kind) from the Django SERVER span up to the root, root first."""
    by_id = {s.span_id: s for s in spans}
    leaf = next(
        (
            s
            for s in spans
            if s.kind == "SERVER" and s.resource.get("service.name") == "django-service"
        ),
        None,
    )
    chain: list[tuple[str, str]] = []
    while leaf is not None:
        chain.append((str(leaf.resource.get("service.name")), leaf.kind))
        leaf = by_id.get(leaf.parent_span_id) if leaf.parent_span_id is not None else None
    return chain[::-1]


EXPECTED = [
    ("flask-service", "SERVER"),
    ("flask-service", "CLIENT"),
    ("fastapi-service", "SERVER"),
    ("fastapi-service", "CLIENT"),
    ("django-service", "SERVER"),
]


def test_one_trace_across_flask_fastapi_and_django(services: str, span_file: Path) -> None:
    """One request to Flask gives one trace: Flask SERVER -> CLIENT -> FastAPI SERVER ->
    CLIENT -> Django SERVER, each the parent of the next, across three processes."""
    response = requests.get(f"{services}/checkout/7", timeout=30)
    deadline = time.monotonic() + 20
    while True:
        spans = read_spans(span_file)
        # The Flask SERVER span is the root and ends last (when gunicorn closes the body).
        done = any(s.kind == "SERVER" and s.parent_span_id is None for s in spans)
        if (done and _chain(spans) == EXPECTED) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    root = next(s for s in spans if s.kind == "SERVER" and s.parent_span_id is None)
    assert (
        200,
        {"checkout": 7, "order": {"order": 7, "item": {"item": 7, "service": "django"}}},
        EXPECTED,
        {root.trace_id},
        "GET /checkout/<int:order_id>",
    ) == (
        response.status_code,
        response.json(),
        _chain(spans),
        {s.trace_id for s in spans},
        root.name,
    )
