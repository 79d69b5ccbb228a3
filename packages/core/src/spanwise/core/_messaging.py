"""Messaging spans and metrics, written once for every queue plugin (Kafka, Celery, …).

Usage, producer side::

    messaging = MessagingTracer(self.tracer, self.meter, self.options, self.guard, system="kafka")
    send = messaging.start_send("orders", partition=3)
    send.inject(headers, kafka_setter)           # trace context into the message headers
    try:
        produce(...)
    except BaseException as exc:
        send.record_exception(exc)
        raise
    finally:
        send.end()                                # span ends, duration + sent.messages recorded

Consumer side::

    process = messaging.start_process("orders", carrier=headers, getter=kafka_getter)
    token = process.attach()                      # the app's work is a child of ``process``
    try:
        handle(message)
    except BaseException as exc:
        process.record_exception(exc)
        raise
    finally:
        process.detach(token)
        process.end()                             # span ends, messaging.process.duration

A receive call that returned messages (Kafka ``poll``/``consume``) has no span of its own: call
:meth:`MessagingTracer.record_receive` for its duration and the consumed-message count.

All names follow the OpenTelemetry messaging semantic conventions and come from
:mod:`spanwise.core.semconv`. Every public method here is safe to call from instrumentation
code; none of them touches the message itself.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import (
    INVALID_SPAN,
    Link,
    SpanKind,
    Status,
    StatusCode,
)

from ._config import Options
from ._context import attach as _attach
from ._context import exemplar_context
from ._context import reset as _reset
from ._fast_instrument import FastInstrument
from ._guard import Guard
from .propagation import extract, inject
from .semconv import _names as n
from .semconv._http import error_type

__all__ = [
    "OPERATION_TYPE_PROCESS",
    "OPERATION_TYPE_RECEIVE",
    "OPERATION_TYPE_SEND",
    "MessagingOperation",
    "MessagingTracer",
]

#: ``messaging.operation.type`` values.
OPERATION_TYPE_SEND = "send"
OPERATION_TYPE_RECEIVE = "receive"
OPERATION_TYPE_PROCESS = "process"

_MAX_ROUTES = 256
"""Distinct routes (destination, operation, partition …) remembered per tracer; more are built
per operation, as before."""


class _Route:
    """What every operation on one route shares: the metric attributes, the span attributes
    that are not per message, and the span name. Shared dicts: never mutated once built."""

    __slots__ = ("metric_attrs", "name", "span_attrs")

    def __init__(self, metric_attrs: dict[str, Any], span_attrs: dict[str, Any], name: str):
        self.metric_attrs = metric_attrs
        self.span_attrs = span_attrs
        self.name = name


class MessagingTracer:
    """Creates PRODUCER and CONSUMER spans and the four messaging metrics for one system.

    *system* is the ``messaging.system`` value (``"kafka"``, ``"celery"``, …). *link* is the
    default for :meth:`start_process`: when true, a consumer span starts a new trace *linked* to
    the producer's span instead of being its child (baggage is kept either way).

    Metrics (OpenTelemetry messaging conventions):

    - ``messaging.client.sent.messages`` (counter, ``{message}``): one per :meth:`start_send`
      operation, at :meth:`MessagingOperation.end` (or at
      :meth:`MessagingOperation.delivered` when ``defer_count=True``), with ``error.type``
      when sending failed.
    - ``messaging.client.consumed.messages`` (counter): from :meth:`record_receive`, and from
      process operations started with ``count_consumed=True`` (push-based consumers such as
      Celery, which have no receive call).
    - ``messaging.client.operation.duration`` (histogram, s): send and receive operations.
    - ``messaging.process.duration`` (histogram, s): process operations, with ``error.type``.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_consumed",
        "_operation_duration",
        "_process_duration",
        "_routes",
        "_sent",
        "guard",
        "link",
        "options",
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
        *,
        link: bool = False,
    ) -> None:
        self.tracer = tracer
        self.options = options
        self.guard = guard
        self.system = system
        self.link = link
        self._routes: dict[tuple[Any, ...], _Route] = {}
        buckets = list(n.DURATION_BUCKETS_HTTP)  # the messaging buckets are the same list
        self._sent = FastInstrument(
            meter.create_counter(
                n.MESSAGING_CLIENT_SENT_MESSAGES,
                unit="{message}",
                description="Number of messages producers attempted to send to the broker.",
            )
        )
        self._consumed = FastInstrument(
            meter.create_counter(
                n.MESSAGING_CLIENT_CONSUMED_MESSAGES,
                unit="{message}",
                description="Number of messages that were delivered to the application.",
            )
        )
        self._operation_duration = FastInstrument(
            meter.create_histogram(
                n.MESSAGING_CLIENT_OPERATION_DURATION,
                unit="s",
                description="Duration of messaging operation initiated by a producer or consumer "
                "client.",
                explicit_bucket_boundaries_advisory=buckets,
            )
        )
        self._process_duration = FastInstrument(
            meter.create_histogram(
                n.MESSAGING_PROCESS_DURATION,
                unit="s",
                description="Duration of processing operation.",
                explicit_bucket_boundaries_advisory=buckets,
            )
        )

    # -- producer ---------------------------------------------------------------------------

    def start_send(
        self,
        destination: str | None,
        *,
        operation_name: str = "send",
        partition: int | str | None = None,
        message_id: str | None = None,
        client_id: str | None = None,
        server_address: str | None = None,
        server_port: int | None = None,
        attributes: dict[str, Any] | None = None,
        defer_count: bool = False,
        name: str | None = None,
    ) -> MessagingOperation:
        """Start the PRODUCER span ``{operation_name} {destination}`` as a child of the current
        context (``send {destination}`` by default; ``{operation_name}`` alone when the
        destination is unknown), or *name* when given.

        *attributes* go on the span only (system-specific ones, e.g. the Celery task name).
        With *defer_count*, ``messaging.client.sent.messages`` is recorded by
        :meth:`MessagingOperation.delivered` (once the broker acknowledged or refused the
        message) instead of by :meth:`MessagingOperation.end`.

        .. versionchanged:: 0.2.0 *name*.
        """
        route = self._route(
            OPERATION_TYPE_SEND,
            operation_name,
            destination,
            None,
            partition,
            client_id,
            server_address,
            server_port,
        )
        span_attrs = route.span_attrs
        if message_id is not None or attributes:
            span_attrs = _per_message(span_attrs, message_id, attributes)
        span = self.tracer.start_span(
            route.name if name is None else name, kind=SpanKind.PRODUCER, attributes=span_attrs
        )
        return MessagingOperation(
            self, span, None, route.metric_attrs, OPERATION_TYPE_SEND, defer_count=defer_count
        )

    # -- consumer ---------------------------------------------------------------------------

    def start_process(
        self,
        destination: str | None,
        *,
        carrier: Any = None,
        getter: Getter[Any] | None = None,
        parent: Context | None = None,
        link: bool | None = None,
        operation_name: str = "process",
        partition: int | str | None = None,
        message_id: str | None = None,
        consumer_group: str | None = None,
        client_id: str | None = None,
        server_address: str | None = None,
        server_port: int | None = None,
        attributes: dict[str, Any] | None = None,
        count_consumed: bool = False,
        name: str | None = None,
    ) -> MessagingOperation:
        """Start the CONSUMER span ``{operation_name} {destination}`` (or *name* when given)
        for one message.

        The producer's context is *parent* if given, else extracted from *carrier* with
        *getter* (never raises, whatever the headers hold). When it holds a valid span, the new
        span is its child, or, with *link* (default: the tracer's ``link``), the root of a new
        trace carrying a :class:`~opentelemetry.trace.Link` to it. Without a producer context
        the span is a child of the current context. Baggage from the message is kept and is
        current after :meth:`MessagingOperation.attach`.

        With *count_consumed*, ``messaging.client.consumed.messages`` is incremented by one
        (for consumers with no separate receive call).

        .. versionchanged:: 0.2.0 *name*.
        """
        if parent is None:
            parent = extract(carrier, getter) if getter is not None and carrier else None
        route = self._route(
            OPERATION_TYPE_PROCESS,
            operation_name,
            destination,
            consumer_group,
            partition,
            client_id,
            server_address,
            server_port,
        )
        span_attrs = route.span_attrs
        if message_id is not None or attributes:
            span_attrs = _per_message(span_attrs, message_id, attributes)
        links: list[Link] | None = None
        start_ctx: Context | None = None
        base: Context | None = None
        if parent is not None:
            producer = trace.get_current_span(parent).get_span_context()
            if producer.is_valid:
                base = parent
                if self.link if link is None else link:
                    links = [Link(producer)]
                    start_ctx = trace.set_span_in_context(INVALID_SPAN, parent)
                else:
                    start_ctx = parent
        span = self.tracer.start_span(
            route.name if name is None else name,
            context=start_ctx,
            kind=SpanKind.CONSUMER,
            attributes=span_attrs,
            links=links,
        )
        metric_attrs = route.metric_attrs
        if count_consumed:
            self._consumed.add(1, metric_attrs)
        return MessagingOperation(self, span, base, metric_attrs, OPERATION_TYPE_PROCESS)

    def record_receive(
        self,
        destination: str | None,
        count: int,
        duration: float,
        *,
        operation_name: str = "receive",
        error_type: str | None = None,
        consumer_group: str | None = None,
        server_address: str | None = None,
        server_port: int | None = None,
    ) -> None:
        """Record one receive call (no span): its *duration* in seconds on
        ``messaging.client.operation.duration`` and *count* messages on
        ``messaging.client.consumed.messages`` (when *count* > 0)."""
        attrs = self._route(
            OPERATION_TYPE_RECEIVE,
            operation_name,
            destination,
            consumer_group,
            None,
            None,
            server_address,
            server_port,
        ).metric_attrs
        if error_type is not None:
            attrs = {**attrs, n.ERROR_TYPE: error_type}
        self._operation_duration.record(duration, attrs)
        if count > 0:
            self._consumed.add(count, attrs)

    # -- internals --------------------------------------------------------------------------

    def _route(
        self,
        operation_type: str,
        operation_name: str,
        destination: str | None,
        consumer_group: str | None,
        partition: int | str | None,
        client_id: str | None,
        server_address: str | None,
        server_port: int | None,
    ) -> _Route:
        """The shared attributes and name of a route, built once per distinct route (up to
        :data:`_MAX_ROUTES`; beyond, built per call). Values that compare equal but differ in
        type (``1``, ``True``, ``1.0``) are different routes."""
        key = (
            operation_type,
            operation_name,
            destination,
            consumer_group,
            partition,
            partition.__class__,
            client_id,
            server_address,
            server_port,
            server_port.__class__,
        )
        routes = self._routes
        try:
            route = routes.get(key)
        except TypeError:  # an unhashable value where a string was expected
            route = None
            key = None  # type: ignore[assignment]
        if route is None:
            route = self._build_route(
                operation_type,
                operation_name,
                destination,
                consumer_group,
                partition,
                client_id,
                server_address,
                server_port,
            )
            if key is not None and len(routes) < _MAX_ROUTES:
                routes[key] = route
        return route

    def _build_route(
        self,
        operation_type: str,
        operation_name: str,
        destination: str | None,
        consumer_group: str | None,
        partition: int | str | None,
        client_id: str | None,
        server_address: str | None,
        server_port: int | None,
    ) -> _Route:
        attrs: dict[str, Any] = {
            n.MESSAGING_SYSTEM: self.system,
            n.MESSAGING_OPERATION_NAME: operation_name,
            n.MESSAGING_OPERATION_TYPE: operation_type,
        }
        if destination:
            attrs[n.MESSAGING_DESTINATION_NAME] = destination
        if server_address:
            attrs[n.SERVER_ADDRESS] = server_address
            if server_port:
                attrs[n.SERVER_PORT] = server_port
        if consumer_group is not None:
            attrs[n.MESSAGING_CONSUMER_GROUP_NAME] = consumer_group
        span_attrs = dict(attrs)
        if partition is not None:
            span_attrs[n.MESSAGING_DESTINATION_PARTITION_ID] = str(partition)
        if client_id is not None:
            span_attrs[n.MESSAGING_CLIENT_ID] = client_id
        name = f"{operation_name} {destination}" if destination else operation_name
        return _Route(attrs, span_attrs, name)


class MessagingOperation:
    """One send or process operation: its span and the metric attributes recorded at the end.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_base",
        "_defer",
        "_delivered",
        "_ended",
        "_metric_attrs",
        "_owner",
        "_start",
        "_type",
        "error_type",
        "recording",
        "span",
    )

    def __init__(
        self,
        owner: MessagingTracer,
        span: trace.Span,
        base: Context | None,
        metric_attrs: dict[str, Any],
        operation_type: str,
        *,
        defer_count: bool = False,
    ) -> None:
        self._owner = owner
        self.span = span
        self.recording = span.is_recording()
        self._base = base
        self._metric_attrs = metric_attrs
        self._type = operation_type
        self._defer = defer_count
        self._delivered = False
        self._ended = False
        self.error_type: str | None = None
        self._start = time.perf_counter()

    @property
    def context(self) -> Context:
        """The context with this span current (plus the message's baggage for a consumer)."""
        return trace.set_span_in_context(self.span, self._base)

    def inject(self, carrier: Any, setter: Setter[Any]) -> None:
        """Write this span's trace context into *carrier* (never raises)."""
        inject(carrier, setter, self._base, span=self.span)

    def attach(self) -> object:
        """Make this span current; pass the returned token to :meth:`detach`."""
        return _attach(self.context)

    def detach(self, token: object) -> None:
        """Undo :meth:`attach`; a token from another context is reported, never raised."""
        try:
            _reset(token)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            self._owner.guard.report("messaging.detach", exc)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set a span attribute, only if the span is recording."""
        if self.recording and value is not None:
            self.span.set_attribute(key, value)

    def record_exception(self, exc: BaseException) -> None:
        """The operation failed with *exc*: exception event, ERROR status, ``error.type``."""
        self.set_error(error_type(exc), exc)

    def set_error(self, kind: str, exc: BaseException | None = None, message: str = "") -> None:
        """The operation failed with error type *kind* (e.g. a broker error code name)."""
        self.error_type = kind
        if self.recording:
            if exc is not None:
                self.span.record_exception(exc)
                message = message or f"{type(exc).__name__}: {exc}"
            self.span.set_status(Status(StatusCode.ERROR, (message or kind)[:1024]))

    def end(self) -> None:
        """Finish the span and record the duration (and sent count); again does nothing."""
        if self._ended:
            return
        self._ended = True
        duration = time.perf_counter() - self._start
        attrs = self._metric_attrs
        if self.error_type is not None:
            attrs = {**attrs, n.ERROR_TYPE: self.error_type}
            if self.recording:
                self.span.set_attribute(n.ERROR_TYPE, self.error_type)
        # Not recording: not sampled, so no exemplar (the filter need not be asked).
        ctx = exemplar_context(self.span) if self.recording else None
        sampled = None if self.recording else False
        self.span.end()
        owner = self._owner
        if self._type == OPERATION_TYPE_PROCESS:
            owner._process_duration.record(duration, attrs, ctx, sampled=sampled)
        else:
            owner._operation_duration.record(duration, attrs, ctx, sampled=sampled)
            if not self._defer:
                owner._sent.add(1, attrs, ctx, sampled=sampled)

    def delivered(self, error: str | None = None) -> None:
        """The broker's verdict for a send started with ``defer_count=True``: records
        ``messaging.client.sent.messages`` with ``error.type`` = *error* when it failed.
        Safe to call before or after :meth:`end`, from any thread; only once counts."""
        if not self._defer or self._delivered:
            return
        self._delivered = True  # a second report is ignored
        attrs = self._metric_attrs
        if error is not None:
            attrs = {**attrs, n.ERROR_TYPE: error}
        elif self.error_type is not None:
            attrs = {**attrs, n.ERROR_TYPE: self.error_type}
        self._owner._sent.add(1, attrs)


def _per_message(
    span_attrs: dict[str, Any], message_id: str | None, attributes: dict[str, Any] | None
) -> dict[str, Any]:
    """The route's span attributes plus the per-message ones (a new dict: the route's is
    shared)."""
    span_attrs = dict(span_attrs)
    if message_id is not None:
        span_attrs[n.MESSAGING_MESSAGE_ID] = message_id
    if attributes:
        span_attrs.update(attributes)
    return span_attrs
