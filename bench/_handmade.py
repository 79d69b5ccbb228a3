"""The ``handmade`` variant: the telemetry Spanwise records, written by hand with the public API.

A scenario's handmade variant records the same spans (name, kind, attribute keys, parent) and
the same metric points as its Spanwise variant, at the call site or in a few lines of
middleware, with as few public OpenTelemetry API calls as we could write it: values a
hand-writer would know are constants, and there are no options, guards, hooks, redaction or
streaming support. Its overhead over bare is what the OpenTelemetry SDK itself spends on that
telemetry through the public API: an instrumentation that records it through those calls does
this work and its own on top. Spanwise's metric records skip part of the SDK's public path,
which is why Spanwise can come in below it.

``bench/telemetry.py`` prints a variant's telemetry shape; ``tests/bench`` checks that the
handmade and Spanwise shapes match, scenario by scenario.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, MutableSequence
from typing import Any

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.trace import SpanKind

#: Where the hand-written framework hooks leave the matched route for the middleware.
ROUTE_KEY = "bench.handmade.route"
#: The semantic conventions' advice for HTTP and messaging durations (seconds).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
#: ... and for database client operations.
DB_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

perf_counter = time.perf_counter


def tracer() -> trace.Tracer:
    return trace.get_tracer("bench.handmade")


def meter() -> metrics.Meter:
    return metrics.get_meter("bench.handmade")


def histogram(name: str, buckets: Iterable[float] = DURATION_BUCKETS) -> metrics.Histogram:
    """A duration histogram in seconds with the bucket boundaries Spanwise advises."""
    return meter().create_histogram(
        name, unit="s", explicit_bucket_boundaries_advisory=list(buckets)
    )


class _WsgiGetter(Getter[dict[str, Any]]):
    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return None if value is None else [value]

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return list(carrier)


class _AsgiGetter(Getter[dict[str, Any]]):
    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        name = key.lower().encode()
        found = [v.decode("latin-1") for k, v in carrier["headers"] if k == name]
        return found or None

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier["headers"]]


class _ListSetter(Setter[MutableSequence[tuple[str, bytes]]]):
    def set(self, carrier: MutableSequence[tuple[str, bytes]], key: str, value: str) -> None:
        carrier.append((key, value.encode()))


WSGI_GETTER = _WsgiGetter()
ASGI_GETTER = _AsgiGetter()
LIST_SETTER = _ListSetter()


class _ServerMetrics:
    def __init__(self) -> None:
        self.duration = histogram("http.server.request.duration")
        self.active = meter().create_up_down_counter(
            "http.server.active_requests", unit="{request}"
        )

    def end(
        self,
        span: trace.Span,
        method: str,
        scheme: str,
        version: str,
        code: int,
        route: str | None,
        start: float,
    ) -> None:
        """The response's attributes, the route as the span's name, the duration."""
        metric_attrs: dict[str, Any] = {
            "http.request.method": method,
            "url.scheme": scheme,
            "network.protocol.version": version,
            "http.response.status_code": code,
        }
        span.set_attribute("http.response.status_code", code)
        if route:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            metric_attrs["http.route"] = route
        span.end()
        self.duration.record(perf_counter() - start, metric_attrs)


def wsgi_middleware(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """A traced WSGI app; the framework leaves the matched route in ``environ[ROUTE_KEY]``."""
    tracer_ = tracer()
    server = _ServerMetrics()
    end, active = server.end, server.active

    def traced(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        scheme = environ["wsgi.url_scheme"]
        version = environ["SERVER_PROTOCOL"][5:]
        active_attrs = {"http.request.method": method, "url.scheme": scheme}
        attrs: dict[str, Any] = {
            "http.request.method": method,
            "url.scheme": scheme,
            "url.path": environ["PATH_INFO"],
            "server.address": environ["SERVER_NAME"],
            "server.port": int(environ["SERVER_PORT"]),
            "client.address": environ["REMOTE_ADDR"],
            "network.peer.address": environ["REMOTE_ADDR"],
            "network.peer.port": int(environ["REMOTE_PORT"]),
            "network.protocol.version": version,
            "user_agent.original": environ.get("HTTP_USER_AGENT", ""),
        }
        query = environ.get("QUERY_STRING")
        if query:
            attrs["url.query"] = query
        parent = propagate.extract(environ, getter=WSGI_GETTER)
        span = tracer_.start_span(method, parent, kind=SpanKind.SERVER, attributes=attrs)
        token = context.attach(trace.set_span_in_context(span, parent))
        active.add(1, active_attrs)
        start = perf_counter()
        status = ["500"]

        def respond(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = line[:3]
            return start_response(line, headers, exc_info)

        try:
            return app(environ, respond)
        finally:
            end(span, method, scheme, version, int(status[0]), environ.get(ROUTE_KEY), start)
            context.detach(token)
            active.add(-1, active_attrs)

    return traced


def asgi_middleware(app: Callable[..., Any]) -> Callable[..., Any]:
    """A traced ASGI app for HTTP; the route comes from the router's ``scope["route"]``."""
    tracer_ = tracer()
    server = _ServerMetrics()
    end, active = server.end, server.active

    async def traced(scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["method"]
        scheme = scope["scheme"]
        version = scope["http_version"]
        host, port = scope["server"]
        client_host, client_port = scope["client"]
        agent = ""
        for key, value in scope["headers"]:
            if key == b"user-agent":
                agent = value.decode("latin-1")
        active_attrs = {"http.request.method": method, "url.scheme": scheme}
        attrs: dict[str, Any] = {
            "http.request.method": method,
            "url.scheme": scheme,
            "url.path": scope["path"],
            "server.address": host,
            "server.port": port,
            "client.address": client_host,
            "network.peer.address": client_host,
            "network.peer.port": client_port,
            "network.protocol.version": version,
            "user_agent.original": agent,
        }
        if scope["query_string"]:
            attrs["url.query"] = scope["query_string"].decode("latin-1")
        parent = propagate.extract(scope, getter=ASGI_GETTER)
        span = tracer_.start_span(method, parent, kind=SpanKind.SERVER, attributes=attrs)
        token = context.attach(trace.set_span_in_context(span, parent))
        active.add(1, active_attrs)
        start = perf_counter()
        status = [500]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = None if route is None else route.path
            end(span, method, scheme, version, status[0], path, start)
            context.detach(token)
            active.add(-1, active_attrs)

    return traced


def django_route(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Django middleware (``"_handmade.django_route"``): leaves the matched route for
    :func:`wsgi_middleware`."""

    def middleware(request: Any) -> Any:
        response = get_response(request)
        match = request.resolver_match
        if match is not None:
            request.META[ROUTE_KEY] = "/" + match.route
        return response

    return middleware
