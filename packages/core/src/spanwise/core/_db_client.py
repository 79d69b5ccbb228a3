"""One database operation, traced and measured the same way by every database plugin."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._config import Options, max_attribute_length
from ._fast_instrument import FastInstrument
from ._guard import Guard
from ._http_server import exemplar_context
from .semconv import _names as n
from .semconv._http import error_type
from .semconv._sql import analyze_sql

__all__ = ["QUERY_TEXT_MODES", "DbClientTracer", "DbOperation"]

#: ``db_query_text`` / ``SPANWISE_DB_QUERY_TEXT``: ``scrubbed`` (default), ``raw`` or ``off``.
QUERY_TEXT_MODES = ("scrubbed", "raw", "off")


class DbClientTracer:
    """Creates CLIENT spans and ``db.client.operation.duration`` for one database system.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_duration",
        "guard",
        "max_length",
        "options",
        "query_text_mode",
        "system",
        "tracer",
    )

    def __init__(
        self,
        tracer: trace.Tracer,
        meter: metrics.Meter,
        options: Options,
        guard: Guard,
        system: str,
    ) -> None:
        self.tracer = tracer
        self.options = options
        self.guard = guard
        self.system = system
        mode = str(options.get("db_query_text", "scrubbed", env="SPANWISE_DB_QUERY_TEXT")).lower()
        self.query_text_mode = mode if mode in QUERY_TEXT_MODES else "scrubbed"
        self.max_length = max_attribute_length()
        self._duration = FastInstrument(
            meter.create_histogram(
                n.DB_CLIENT_OPERATION_DURATION,
                unit="s",
                description="Duration of database client operations.",
                explicit_bucket_boundaries_advisory=list(n.DURATION_BUCKETS_DB),
            )
        )

    def start_sql(
        self,
        statement: Any,
        *,
        namespace: str | None = None,
        server_address: str | None = None,
        server_port: int | None = None,
        batch_size: int | None = None,
        system: str | None = None,
    ) -> DbOperation:
        """Start a span for a SQL statement: summary, operation and table read from it."""
        info = analyze_sql(statement)
        if self.query_text_mode == "scrubbed":
            text: str | None = info.scrubbed
        elif self.query_text_mode == "raw":
            text = statement if isinstance(statement, str) else info.scrubbed
        else:
            text = None
        return DbOperation(
            self,
            system or self.system,
            info.operation,
            info.collection,
            info.summary,
            text,
            namespace,
            server_address,
            server_port,
            batch_size,
        )

    def start(
        self,
        operation: str | None,
        *,
        collection: str | None = None,
        query_text: str | None = None,
        summary: str | None = None,
        namespace: str | None = None,
        server_address: str | None = None,
        server_port: int | None = None,
        batch_size: int | None = None,
        system: str | None = None,
    ) -> DbOperation:
        """Start a span for a non-SQL operation; *query_text* must already hide values."""
        text = None if self.query_text_mode == "off" else query_text
        return DbOperation(
            self,
            system or self.system,
            operation,
            collection,
            summary,
            text,
            namespace,
            server_address,
            server_port,
            batch_size,
        )


class DbOperation:
    """The span and metric attributes of one database operation.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_ended", "_metric_attrs", "_owner", "_start", "error_type", "recording", "span")

    def __init__(
        self,
        owner: DbClientTracer,
        system: str,
        operation: str | None,
        collection: str | None,
        summary: str | None,
        query_text: str | None,
        namespace: str | None,
        server_address: str | None,
        server_port: int | None,
        batch_size: int | None,
    ) -> None:
        self._owner = owner
        self._ended = False
        self.error_type: str | None = None
        attrs: dict[str, Any] = {n.DB_SYSTEM_NAME: system}
        if operation:
            attrs[n.DB_OPERATION_NAME] = operation
        if collection:
            attrs[n.DB_COLLECTION_NAME] = collection
        if namespace:
            attrs[n.DB_NAMESPACE] = namespace
        if server_address:
            attrs[n.SERVER_ADDRESS] = server_address
            if server_port:
                attrs[n.SERVER_PORT] = server_port
        self._metric_attrs = attrs
        if summary:
            name = summary
        elif operation and collection:
            name = f"{operation} {collection}"
        else:
            name = operation or collection or system
        # Everything goes in at start (one attribute pass in the SDK, visible to samplers);
        # an unsampled span drops it without further work.
        span_attrs = dict(attrs)
        if summary:
            span_attrs[n.DB_QUERY_SUMMARY] = summary
        if batch_size is not None and batch_size >= 2:
            span_attrs[n.DB_OPERATION_BATCH_SIZE] = batch_size
        if query_text:
            limit = owner.max_length
            span_attrs[n.DB_QUERY_TEXT] = (
                query_text if len(query_text) <= limit else query_text[:limit]
            )
        self.span = owner.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=span_attrs)
        self.recording = self.span.is_recording()
        self._start = time.perf_counter()

    def record_exception(self, exc: BaseException) -> None:
        """The operation failed with *exc*."""
        self.error_type = error_type(exc)
        if self.recording:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1024]))

    def set_response_status_code(self, code: str) -> None:
        """The database's own error code (``db.response.status_code``)."""
        self._metric_attrs[n.DB_RESPONSE_STATUS_CODE] = code
        if self.recording:
            self.span.set_attribute(n.DB_RESPONSE_STATUS_CODE, code)

    def end(self) -> None:
        """Finish the span and record the duration; calling it again does nothing."""
        if self._ended:
            return
        self._ended = True
        duration = time.perf_counter() - self._start
        attrs = self._metric_attrs
        if self.error_type is not None:
            attrs[n.ERROR_TYPE] = self.error_type
            if self.recording:
                self.span.set_attribute(n.ERROR_TYPE, self.error_type)
        span = self.span
        span.end()
        self._owner._duration.record(
            duration, attrs, context=exemplar_context(span) if self.recording else None
        )
