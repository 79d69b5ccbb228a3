"""One database operation, traced and measured the same way by every database plugin."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._config import Options, max_attribute_length
from ._context import exemplar_context
from ._fast_instrument import FastInstrument
from ._guard import Guard
from .semconv import _names as n
from .semconv._http import error_type
from .semconv._sql import _CACHE_MAX_TEXT, analyze_sql

__all__ = ["QUERY_TEXT_MODES", "DbClientTracer", "DbOperation"]

#: ``db_query_text`` / ``SPANWISE_DB_QUERY_TEXT``: ``scrubbed`` (default), ``raw`` or ``off``.
QUERY_TEXT_MODES = ("scrubbed", "raw", "off")

_MAX_SHAPES = 1024
"""Operation shapes (and SQL statements) remembered per tracer; the cache starts over when full."""

_CLIENT = SpanKind.CLIENT
_perf_counter = time.perf_counter


class _Shape:
    """What every operation of one shape shares: span name, span and metric attributes.

    Both mappings are handed out as they are and must never be changed: an operation that
    adds to its metric attributes copies them first.
    """

    __slots__ = ("base_attrs", "metric_attrs", "name", "span_attrs", "text")

    def __init__(
        self,
        system: str,
        operation: str | None,
        collection: str | None,
        summary: str | None,
        namespace: str | None,
        server_address: str | None,
        server_port: int | None,
        query_text: str | None,
        max_length: int,
    ) -> None:
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
        self.metric_attrs = attrs
        if summary:
            self.name = summary
        elif operation and collection:
            self.name = f"{operation} {collection}"
        else:
            self.name = operation or collection or system
        base = dict(attrs)
        if summary:
            base[n.DB_QUERY_SUMMARY] = summary
        #: The span attributes but the query text and the batch size.
        self.base_attrs = base
        self.text = query_text[:max_length] if query_text else None
        if self.text:
            self.span_attrs = dict(base)
            self.span_attrs[n.DB_QUERY_TEXT] = self.text
        else:
            self.span_attrs = base


class DbClientTracer:
    """Creates CLIENT spans and ``db.client.operation.duration`` for one database system.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_duration",
        "_shapes",
        "_statements",
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
        # (system, operation, collection, summary, namespace, address, port) -> _Shape
        self._shapes: dict[tuple[Any, ...], _Shape] = {}
        # (statement, system, namespace, address, port) -> _Shape, query text included
        self._statements: dict[tuple[Any, ...], _Shape] = {}

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
        system = system or self.system
        key: tuple[Any, ...] | None = None
        shape: _Shape | None = None
        # Only plain str statements are kept (immutable, hashed once): bytes or a str subclass
        # is analysed every time, as before.
        if type(statement) is str and len(statement) <= _CACHE_MAX_TEXT:
            key = (statement, system, namespace, server_address, server_port)
            shape = self._statements.get(key)
        if shape is None:
            info = analyze_sql(statement)
            if self.query_text_mode == "scrubbed":
                text: str | None = info.scrubbed
            elif self.query_text_mode == "raw":
                text = statement if isinstance(statement, str) else info.scrubbed
            else:
                text = None
            shape = _Shape(
                system,
                info.operation,
                info.collection,
                info.summary,
                namespace,
                server_address,
                server_port,
                text,
                self.max_length,
            )
            if key is not None:
                statements = self._statements
                if len(statements) >= _MAX_SHAPES:
                    statements.clear()
                statements[key] = shape
        return DbOperation(self, shape, None, batch_size)

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
        system = system or self.system
        key = (system, operation, collection, summary, namespace, server_address, server_port)
        shape = self._shapes.get(key)
        if shape is None:
            shape = _Shape(
                system,
                operation,
                collection,
                summary,
                namespace,
                server_address,
                server_port,
                None,
                self.max_length,
            )
            shapes = self._shapes
            if len(shapes) >= _MAX_SHAPES:
                shapes.clear()
            shapes[key] = shape
        if self.query_text_mode == "off":
            query_text = None
        return DbOperation(self, shape, query_text, batch_size)


class DbOperation:
    """The span and metric attributes of one database operation.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_ended",
        "_metric_attrs",
        "_own_attrs",
        "_owner",
        "_start",
        "error_type",
        "recording",
        "span",
    )

    def __init__(
        self,
        owner: DbClientTracer,
        shape: _Shape,
        query_text: str | None,
        batch_size: int | None,
    ) -> None:
        self._owner = owner
        self._ended = False
        self.error_type: str | None = None
        self._metric_attrs = shape.metric_attrs
        self._own_attrs = False
        # Everything goes in at start (one attribute pass in the SDK, visible to samplers);
        # an unsampled span drops it without further work. The SDK copies what it keeps.
        if query_text or (batch_size is not None and batch_size >= 2):
            span_attrs = dict(shape.base_attrs)
            if batch_size is not None and batch_size >= 2:
                span_attrs[n.DB_OPERATION_BATCH_SIZE] = batch_size
            if query_text:
                limit = owner.max_length
                span_attrs[n.DB_QUERY_TEXT] = (
                    query_text if len(query_text) <= limit else query_text[:limit]
                )
            elif shape.text:
                span_attrs[n.DB_QUERY_TEXT] = shape.text
        else:
            span_attrs = shape.span_attrs
        self.span = span = owner.tracer.start_span(shape.name, kind=_CLIENT, attributes=span_attrs)
        self.recording = span.is_recording()
        self._start = _perf_counter()

    def _metric_attributes(self) -> dict[str, Any]:
        """This operation's own metric attributes (the shape's are shared: copied once)."""
        if not self._own_attrs:
            self._metric_attrs = dict(self._metric_attrs)
            self._own_attrs = True
        return self._metric_attrs

    def record_exception(self, exc: BaseException) -> None:
        """The operation failed with *exc*."""
        self.error_type = error_type(exc)
        if self.recording:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1024]))

    def set_response_status_code(self, code: str) -> None:
        """The database's own error code (``db.response.status_code``)."""
        self._metric_attributes()[n.DB_RESPONSE_STATUS_CODE] = code
        if self.recording:
            self.span.set_attribute(n.DB_RESPONSE_STATUS_CODE, code)

    def end(self) -> None:
        """Finish the span and record the duration; calling it again does nothing."""
        if self._ended:
            return
        self._ended = True
        duration = _perf_counter() - self._start
        span = self.span
        if self.error_type is None:
            attrs = self._metric_attrs
        else:
            attrs = self._metric_attributes()
            attrs[n.ERROR_TYPE] = self.error_type
            if self.recording:
                span.set_attribute(n.ERROR_TYPE, self.error_type)
        span.end()
        if self.recording:
            self._owner._duration.record(duration, attrs, exemplar_context(span))
        else:
            self._owner._duration.record(duration, attrs, None, sampled=False)
