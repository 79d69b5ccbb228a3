"""One requests.Session GET to a keep-alive HTTP/1.1 server on 127.0.0.1 (started in make())."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

NAME = "requests_get"
CONTRIB = "opentelemetry.instrumentation.requests"
HANDMADE = True

# The server runs in its own process, so it does not compete with the client for the GIL.
_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One segment per response, no Nagle: otherwise delayed ACKs add ~40 ms to some requests.
    wbufsize = 65536
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

_proc: subprocess.Popen[str] | None = None
_session: Any = None


def _wait(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def make(variant: str) -> Callable[[], object]:
    global _proc, _session
    if variant == "contrib":
        from opentelemetry.instrumentation.requests import RequestsInstrumentor as Contrib

        Contrib().instrument()
    elif variant == "spanwise":
        from spanwise.instrumentation.requests import RequestsInstrumentor

        RequestsInstrumentor().instrument()
    import requests

    _proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True)
    assert _proc.stdout is not None
    port = int(_proc.stdout.readline())
    _wait(port)
    url = f"http://127.0.0.1:{port}/users/42?page=2"
    _session = session = requests.Session()

    def op() -> object:
        return session.get(url).content

    if variant == "handmade":
        op = _by_hand(session, url, port)
    for _ in range(200):
        op()
    return op


def _by_hand(session: Any, url: str, port: int) -> Callable[[], object]:
    """The same span, context header and metric point as Spanwise's, written at the call site."""
    import _handmade
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind

    tracer = _handmade.tracer()
    duration = _handmade.histogram("http.client.request.duration")
    start_attrs = {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.full": url,
    }
    metric_base = {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.scheme": "http",
    }
    get, inject, perf_counter = session.get, propagate.inject, _handmade.perf_counter
    in_context = trace.set_span_in_context

    def op() -> object:
        span = tracer.start_span("GET", kind=SpanKind.CLIENT, attributes=start_attrs)
        headers: dict[str, str] = {}
        inject(headers, in_context(span))
        start = perf_counter()
        response = get(url, headers=headers)
        elapsed = perf_counter() - start
        version = "1.1" if response.raw.version == 11 else "1.0"
        span.set_attributes(
            {"http.response.status_code": response.status_code, "network.protocol.version": version}
        )
        span.end()
        duration.record(
            elapsed,
            {
                **metric_base,
                "http.response.status_code": response.status_code,
                "network.protocol.version": version,
            },
        )
        return response.content

    return op


def teardown() -> None:
    if _session is not None:
        _session.close()
    if _proc is not None:
        _proc.terminate()
        _proc.wait(10)
