"""One requests.Session GET to a keep-alive HTTP/1.1 server on 127.0.0.1 (started in make())."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NAME = "requests_get"
CONTRIB = "opentelemetry.instrumentation.requests"

_server: ThreadingHTTPServer | None = None
_session: Any = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def make(variant: str) -> Callable[[], object]:
    global _server, _session
    if variant == "contrib":
        from opentelemetry.instrumentation.requests import RequestsInstrumentor as Contrib

        Contrib().instrument()
    elif variant == "spanwise":
        from spanwise.instrumentation.requests import RequestsInstrumentor

        RequestsInstrumentor().instrument()
    import requests

    _server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _server.daemon_threads = True
    threading.Thread(target=_server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{_server.server_address[1]}/users/42?page=2"
    _session = session = requests.Session()

    def op() -> object:
        return session.get(url).content

    for _ in range(200):
        op()
    return op


def teardown() -> None:
    if _session is not None:
        _session.close()
    if _server is not None:
        _server.shutdown()
        _server.server_close()
