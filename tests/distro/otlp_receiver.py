"""An OTLP receiver for tests: OTLP/HTTP (protobuf) and OTLP/gRPC on 127.0.0.1, decoding with
the official opentelemetry-proto messages and keeping everything it receives in memory."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["OtlpReceiver", "Received", "attributes"]


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    return getattr(v, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    """Protobuf ``KeyValue`` list -> plain dict."""
    out: dict[str, Any] = {}
    kv: KeyValue
    for kv in kvs:
        out[kv.key] = _value(kv.value)
    return out


@dataclass
class Received:
    """Everything received, flattened: (resource attributes, scope name, item) triples."""

    spans: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)
    metrics: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)
    logs: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    transports: set[str] = field(default_factory=set)


class OtlpReceiver:
    """Start with ``with OtlpReceiver() as rx:``; ``rx.http_endpoint`` / ``rx.grpc_endpoint``."""

    def __init__(self) -> None:
        self.received = Received()
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self._grpc: grpc.Server | None = None
        self.http_port = 0
        self.grpc_port = 0

    # -- recording ------------------------------------------------------------------------

    def _traces(self, req: trace_service_pb2.ExportTraceServiceRequest, how: str) -> None:
        with self._lock:
            self.received.transports.add(how)
            for rs in req.resource_spans:
                res = attributes(rs.resource.attributes)
                for ss in rs.scope_spans:
                    self.received.spans.extend((res, ss.scope.name, s) for s in ss.spans)

    def _metrics(self, req: metrics_service_pb2.ExportMetricsServiceRequest, how: str) -> None:
        with self._lock:
            self.received.transports.add(how)
            for rm in req.resource_metrics:
                res = attributes(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    self.received.metrics.extend((res, sm.scope.name, m) for m in sm.metrics)

    def _logs(self, req: logs_service_pb2.ExportLogsServiceRequest, how: str) -> None:
        with self._lock:
            self.received.transports.add(how)
            for rl in req.resource_logs:
                res = attributes(rl.resource.attributes)
                for sl in rl.scope_logs:
                    self.received.logs.extend((res, sl.scope.name, r) for r in sl.log_records)

    def _record_headers(self, headers: dict[str, str]) -> None:
        with self._lock:
            self.received.headers.append(headers)

    # -- servers --------------------------------------------------------------------------

    def _http_handler(self) -> type[BaseHTTPRequestHandler]:
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
                message.ParseFromString(body)
                receiver._record_headers({k.lower(): v for k, v in self.headers.items()})
                record(message, "http")
                payload = response_cls().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def _grpc_servicers(self, server: grpc.Server) -> None:
        receiver = self

        def meta(context: grpc.ServicerContext) -> None:
            receiver._record_headers({k.lower(): v for k, v in context.invocation_metadata()})

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
                meta(context)
                receiver._traces(request, "grpc")
                return trace_service_pb2.ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
                meta(context)
                receiver._metrics(request, "grpc")
                return metrics_service_pb2.ExportMetricsServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
                meta(context)
                receiver._logs(request, "grpc")
                return logs_service_pb2.ExportLogsServiceResponse()

        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)

    def start(self) -> OtlpReceiver:
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._http_handler())
        self._http.daemon_threads = True
        self.http_port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._grpc_servicers(self._grpc)
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        return self

    def stop(self) -> None:
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
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 30.0) -> bool:
        """Poll until *predicate* holds for what was received (True) or *timeout* (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self.received):
                    return True
            time.sleep(0.1)
        with self._lock:
            return predicate(self.received)


def span_names(received: Received) -> Iterator[str]:
    return (span.name for _, _, span in received.spans)
