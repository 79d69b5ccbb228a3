"""The middleware on real servers: gunicorn (WSGI) and uvicorn (ASGI), over real sockets."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from spanwise.core.testing import SpanRecord, free_port, read_spans, wait_for_port

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Served:
    kind: str
    mode: str
    port: int
    span_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spans(self, predicate: Callable[[SpanRecord], bool], count: int = 1) -> list[SpanRecord]:
        """The spans matching *predicate*, once *count* of them were written (10 s at most)."""
        deadline = time.monotonic() + 10
        while True:
            found = [s for s in read_spans(self.span_file) if predicate(s)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def _command(kind: str, port: int) -> list[str]:
    if kind == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                "--log-level", "warning", "spanwise_django_testapp.wsgi:application"]  # fmt: skip
    return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
            "--lifespan", "off", "--log-level", "warning",
            "spanwise_django_testapp.asgi:application"]  # fmt: skip


@pytest.fixture(
    scope="module",
    params=[
        ("gunicorn", "instrumentor"),
        ("uvicorn", "instrumentor"),
        ("gunicorn", "middleware"),
        ("uvicorn", "installed_apps"),
    ],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The test project served by a real server in a subprocess, one way of enabling tracing."""
    kind, mode = request.param
    port = free_port()
    span_file = tmp_path_factory.mktemp(f"{kind}-{mode}") / "spans.jsonl"
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(HERE),
        DJANGO_SETTINGS_MODULE="spanwise_django_testapp.settings",
        SPANWISE_SPAN_FILE=str(span_file),
        SPANWISE_DJANGO_APP_MODE=mode,
    )
    proc = subprocess.Popen(_command(kind, port), cwd=str(HERE), env=env)
    try:
        wait_for_port(port, timeout=30)
        yield Served(kind, mode, port, span_file)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _traceparent() -> tuple[str, str, str]:
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, parent_id, f"00-{trace_id}-{parent_id}-01"


def _in_trace(trace_id: str) -> Callable[[SpanRecord], bool]:
    return lambda s: f"{s.trace_id:032x}" == trace_id


class TestServed:
    def test_route_attributes_and_remote_parent(self, served: Served) -> None:
        """One SERVER span, named by the URL pattern, child of the caller, with HTTP attributes."""
        trace_id, parent_id, header = _traceparent()
        response = requests.get(
            f"{served.url}/users/7/?page=1&token=abc",
            headers={"traceparent": header, "User-Agent": "spanwise-tests"},
            timeout=10,
        )
        assert 200 == response.status_code
        (span,) = served.spans(_in_trace(trace_id))
        expected = {
            "http.request.method": "GET",
            "url.scheme": "http",
            "url.path": "/users/7/",
            "url.query": "page=1&token=REDACTED",
            "http.route": "/users/<int:uid>/",
            "http.response.status_code": 200,
            "server.address": "127.0.0.1",
            "server.port": served.port,
            "client.address": "127.0.0.1",
            "user_agent.original": "spanwise-tests",
            "network.protocol.version": "1.1",
        }
        assert (expected, "GET /users/<int:uid>/", "SERVER", int(parent_id, 16)) == (
            {k: span.attributes.get(k) for k in expected},
            span.name,
            span.kind,
            span.parent_span_id,
        )
        assert f"{span.span_id:016x}" == response.json()["span_id"]

    def test_async_view(self, served: Served) -> None:
        """An async view is traced and runs inside the server span."""
        trace_id, _, header = _traceparent()
        response = requests.get(
            f"{served.url}/async/users/8/", headers={"traceparent": header}, timeout=10
        )
        (span,) = served.spans(_in_trace(trace_id))
        assert ("GET /async/users/<int:uid>/", f"{span.span_id:016x}") == (
            span.name,
            response.json()["span_id"],
        )

    def test_unhandled_exception(self, served: Served) -> None:
        """A view's exception: Django's 500 page, a span with ERROR, error.type and the event."""
        trace_id, _, header = _traceparent()
        response = requests.get(f"{served.url}/boom/", headers={"traceparent": header}, timeout=10)
        (span,) = served.spans(_in_trace(trace_id))
        assert (500, "ERROR", "ValueError", ("exception",)) == (
            response.status_code,
            span.status,
            span.attributes["error.type"],
            span.events,
        )

    def test_not_found_and_disallowed_host(self, served: Served) -> None:
        """A 404 and a DisallowedHost 400 are served as usual, spans named ``GET``, no error."""
        trace_id, _, header = _traceparent()
        not_found = requests.get(
            f"{served.url}/nowhere/", headers={"traceparent": header}, timeout=10
        )
        evil = requests.get(
            f"{served.url}/users/1/",
            headers={"traceparent": header, "Host": "evil.example"},
            timeout=10,
        )
        spans = served.spans(_in_trace(trace_id), count=2)
        assert (404, 400) == (not_found.status_code, evil.status_code)
        assert [("GET", 400, "UNSET"), ("GET", 404, "UNSET")] == sorted(
            (s.name, s.attributes["http.response.status_code"], s.status) for s in spans
        )

    def test_malformed_traceparent(self, served: Served) -> None:
        """A malformed traceparent is ignored: a root span, the request served normally."""
        marker = secrets.token_hex(8)
        response = requests.get(
            f"{served.url}/users/2/?m={marker}",
            headers={"traceparent": "00-not-a-trace-id-01", "tracestate": "=,,no equals;;"},
            timeout=10,
        )
        (span,) = served.spans(lambda s: s.attributes.get("url.query") == f"m={marker}")
        assert (200, None) == (response.status_code, span.parent_span_id)

    def test_streaming_response(self, served: Served) -> None:
        """A streaming body arrives whole; its span ends after the body was sent."""
        trace_id, _, header = _traceparent()
        response = requests.get(
            f"{served.url}/stream/", headers={"traceparent": header}, timeout=10
        )
        (span,) = served.spans(_in_trace(trace_id))
        assert (b"one,two,three", "GET /stream/", 200) == (
            response.content,
            span.name,
            span.attributes["http.response.status_code"],
        )

    def test_hostile_headers_over_a_raw_socket(self, served: Served) -> None:
        """Non-UTF-8, oversized and malformed header bytes never break the request."""
        marker = secrets.token_hex(8)
        raw = (
            f"GET /users/3/?m={marker} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n".encode()
            + b"traceparent: 00-\xff\xfe-\xc3\x28-01\r\n"
            + b"tracestate: \xe2\x82=\xff\r\n"
            + b"baggage: k=\xff\xfe,=,;;\r\n"
            + b"User-Agent: agent-\xff\xfe\r\n"
            + b"X-Huge: "
            + b"a" * 6000
            + b"\r\nConnection: close\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(raw)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        (span,) = served.spans(lambda s: s.attributes.get("url.query") == f"m={marker}")
        assert (b"HTTP/1.1 200", None, "GET /users/<int:uid>/") == (
            reply[:12],
            span.parent_span_id,
            span.name,
        )
