"""A real HTTP server on 127.0.0.1 for the requests tests, and the instrumentor fixture."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from spanwise.instrumentation.requests import RequestsInstrumentor


class _Handler(BaseHTTPRequestHandler):
    """``/status/<code>``, ``/redirect`` (302 to /echo) and anything else: echo the headers."""

    protocol_version = "HTTP/1.1"

    def _reply(self, code: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", "test-server")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/status/"):
            self._reply(int(self.path.rsplit("/", 1)[1]), b"{}")
        elif self.path == "/redirect":
            self._reply(302, b"{}", {"Location": "/echo"})
        else:
            headers: dict[str, Any] = {}
            for name, value in self.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            self._reply(200, json.dumps(headers).encode())

    do_GET = do_POST = do_PUT = do_DELETE = do_PURGE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def http_server() -> Iterator[str]:
    """Base URL of a threaded HTTP/1.1 server on 127.0.0.1 (stopped at the end)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def instrument(telemetry: Any) -> Iterator[Any]:
    """Call to instrument requests with options; uninstrumented after the test."""
    instrumentor = RequestsInstrumentor()

    def apply(**options: Any) -> RequestsInstrumentor:
        instrumentor.instrument(**options)
        return instrumentor

    yield apply
    instrumentor.uninstrument()
