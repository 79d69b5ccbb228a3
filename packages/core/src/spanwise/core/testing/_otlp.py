"""An OTLP receiver on 127.0.0.1 (HTTP/protobuf, and gRPC when grpcio is installed) that
decodes with the official opentelemetry-proto messages and keeps what it receives in memory."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._tree import SpanRecord

__all__ = ["OtlpReceiver", "Received", "otlp_attributes", "span_record"]

_KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return otlp_attributes(v.kvlist_value.values)
    return getattr(v, kind)


def otlp_attributes(kvs: Any) -> dict[str, Any]:
    """A protobuf ``KeyValue`` list as a plain dict."""
    return {kv.key: _value(kv.value) for kv in kvs}


def span_record(resource: dict[str, Any], scope: str, span: Any) -> SpanRecord:
    """A received protobuf span as a :class:`SpanRecord` (for the tree renderers)."""
    parent = span.parent_span_id
    return SpanRecord(
        name=span.name,
        kind=_KINDS.get(span.kind, "INTERNAL"),
        trace_id=int.from_bytes(span.trace_id, "big"),
        span_id=int.from_bytes(span.span_id, "big"),
        parent_span_id=int.from_bytes(parent, "big") if parent else None,
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        status=_STATUS.get(span.status.code, "UNSET"),
        status_description=span.status.message or None,
        attributes=otlp_attributes(span.attributes),
        events=tuple(e.name for e in span.events),
        links=tuple(
            (int.from_bytes(link.trace_id, "big"), int.from_bytes(link.span_id, "big"))
            for link in span.links
        ),
        resource=resource,
        scope=scope,
    )


@dataclass
class Received:
    """Everything received, flattened to ``(resource attributes, scope name, item)`` triples,
    where the item is the protobuf ``Span``, ``Metric`` or ``LogRecord``."""

    spans: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)
    metrics: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)
    logs: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    transports: set[str] = field(default_factory=set)


class OtlpReceiver:
    """``with OtlpReceiver() as rx:`` then point exporters at ``rx.http_endpoint`` or
    ``rx.grpc_endpoint``; read ``rx.received``. Needs ``opentelemetry-proto`` (and ``grpcio``
    for gRPC). *on_payload(path, body)* sees every raw HTTP request body, for forwarding.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        grpc: bool = True,
        on_payload: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.received = Received()
        self.lock = threading.Lock()
        self._want_grpc = grpc
        self._on_payload = on_payload
        self._http: ThreadingHTTPServer | None = None
        self._grpc: Any = None
        self.http_port = 0
        self.grpc_port = 0

    # -- recording -----------------------------------------------------------------------

    def _traces(self, req: Any, how: str) -> None:
        with self.lock:
            self.received.transports.add(how)
            for rs in req.resource_spans:
                res = otlp_attributes(rs.resource.attributes)
                for ss in rs.scope_spans:
                    self.received.spans.extend((res, ss.scope.name, s) for s in ss.spans)

    def _metrics(self, req: Any, how: str) -> None:
        with self.lock:
            self.received.transports.add(how)
            for rm in req.resource_metrics:
                res = otlp_attributes(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    self.received.metrics.extend((res, sm.scope.name, m) for m in sm.metrics)

    def _logs(self, req: Any, how: str) -> None:
        with self.lock:
            self.received.transports.add(how)
            for rl in req.resource_logs:
                res = otlp_attributes(rl.resource.attributes)
                for sl in rl.scope_logs:
                    self.received.logs.extend((res, sl.scope.name, r) for r in sl.log_records)

    def _record_headers(self, headers: dict[str, str]) -> None:
        with self.lock:
            self.received.headers.append(headers)

    # -- servers -------------------------------------------------------------------------

    def _http_handler(self) -> type[BaseHTTPRequestHandler]:
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        receiver = self
        routes: dict[str, tuple[Any, Callable[[Any, str], None], Any]] = {
            "/v1/traces": (
                trace_service_pb2.ExportTraceServiceRequest,
                self._traces,
                trace_service_pb2.ExportTraceServiceResponse,
            ),
            "/v1/metrics": (
                metrics_service_pb2.ExportMetricsServiceRequest,
                self._metrics,
                metrics_service_pb2.ExportMetricsServiceResponse,
            ),
            "/v1/logs": (
                logs_service_pb2.ExportLogsServiceRequest,
                self._logs,
                logs_service_pb2.ExportLogsServiceResponse,
            ),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                route = routes.get(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request_cls, record, response_cls = route
                message = request_cls()
                try:
                    message.ParseFromString(body)
                except Exception:  # noqa: BLE001 - a bad payload is the sender's problem
                    self.send_response(400)
                    self.end_headers()
                    return
                receiver._record_headers({k.lower(): v for k, v in self.headers.items()})
                record(message, "http")
                if receiver._on_payload is not None:
                    receiver._on_payload(self.path, body)
                payload = response_cls().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def _start_grpc(self) -> None:
        try:
            from concurrent import futures

            import grpc
            from opentelemetry.proto.collector.logs.v1 import (
                logs_service_pb2,
                logs_service_pb2_grpc,
            )
            from opentelemetry.proto.collector.metrics.v1 import (
                metrics_service_pb2,
                metrics_service_pb2_grpc,
            )
            from opentelemetry.proto.collector.trace.v1 import (
                trace_service_pb2,
                trace_service_pb2_grpc,
            )
        except ImportError:
            return
        receiver = self

        def meta(context: Any) -> None:
            receiver._record_headers({k.lower(): v for k, v in context.invocation_metadata()})

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                meta(context)
                receiver._traces(request, "grpc")
                return trace_service_pb2.ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                meta(context)
                receiver._metrics(request, "grpc")
                return metrics_service_pb2.ExportMetricsServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
            def Export(self, request: Any, context: Any) -> Any:
                meta(context)
                receiver._logs(request, "grpc")
                return logs_service_pb2.ExportLogsServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
        self.grpc_port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._grpc = server

    def start(self) -> OtlpReceiver:
        """Start listening (HTTP always; gRPC when asked for and grpcio is installed)."""
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._http_handler())
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        if self._want_grpc:
            self._start_grpc()
        return self

    def stop(self) -> None:
        """Stop both servers."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace=None)

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def http_endpoint(self) -> str:
        """Base URL for OTLP/HTTP exporters (``/v1/<signal>`` is appended by them)."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        """Endpoint for OTLP/gRPC exporters (empty when gRPC is not running)."""
        return f"http://127.0.0.1:{self.grpc_port}" if self.grpc_port else ""

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 30.0) -> bool:
        """Poll until *predicate* holds for what was received (True) or *timeout* (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.received):
                    return True
            time.sleep(0.1)
        with self.lock:
            return predicate(self.received)

    def snapshot(self) -> Received:
        """A copy of what has arrived so far."""
        with self.lock:
            r = self.received
            return Received(
                list(r.spans), list(r.metrics), list(r.logs), list(r.headers), set(r.transports)
            )

    def spans_by_trace(self) -> Iterator[tuple[str, list[Any]]]:
        """Received spans grouped by hex trace id."""
        groups: dict[str, list[Any]] = {}
        for _, _, span in self.snapshot().spans:
            groups.setdefault(span.trace_id.hex(), []).append(span)
        yield from groups.items()

    def span_records(self) -> list[SpanRecord]:
        """Every received span as a :class:`SpanRecord`, resource included."""
        return [span_record(res, scope, span) for res, scope, span in self.snapshot().spans]
