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

    for _ in range(200):
        op()
    return op


def teardown() -> None:
    if _session is not None:
        _session.close()
    if _proc is not None:
        _proc.terminate()
        _proc.wait(10)
