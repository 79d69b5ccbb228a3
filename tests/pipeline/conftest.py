"""An OTLP/HTTP receiver that can be taken down and brought back on the same port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.core.testing import free_port, wait_for_port


class OutageReceiver:
    """Decodes ``ExportTraceServiceRequest`` bodies; ``down()`` closes the port, ``up()`` reopens.

    ``spans`` holds (span id hex, ``seq`` attribute) in the order received.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}/v1/traces"
        self.spans: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                got = []
                for rs in request.resource_spans:
                    for ss in rs.scope_spans:
                        for s in ss.spans:
                            seq = next(
                                (a.value.int_value for a in s.attributes if a.key == "seq"), -1
                            )
                            got.append((s.span_id.hex(), seq))
                with outer.lock:
                    outer.spans.extend(got)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def up(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        wait_for_port(self.port)

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> list[tuple[str, int]]:
        with self.lock:
            return list(self.spans)


@pytest.fixture
def receiver() -> Iterator[OutageReceiver]:
    rx = OutageReceiver()
    try:
        yield rx
    finally:
        rx.down()
