"""One HTTP server request, traced and measured the same way by every server plugin."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._config import Options
from ._context import attach as _attach
from ._context import exemplar_context, with_span
from ._context import reset as _reset
from ._fast_instrument import FastInstrument
from ._guard import Guard
from .propagation import asgi_getter, extract, wsgi_getter
from .semconv import _names as n
from .semconv._http import (
    _PROTOCOL_VERSIONS,
    OTHER_METHOD,
    asgi_headers,
    environ_extra_attributes,
    error_type,
    known_methods,
    normalize_method,
    protocol_version,
    scope_extra_attributes,
    scope_path,
    scope_scheme,
    sensitive_query_keys,
    server_span_name,
    wsgi_headers,
    wsgi_path,
)

__all__ = ["HttpServerTracer", "ServerRequest"]


class _ActiveCounts:
    """In-flight requests per (method, scheme) for one instrumentation scope.

    Shared by every tracer of the scope: the SDK keeps only the first callback registered for an
    instrument name, so a re-instrumented plugin must feed the same counts.

    Each (method, scheme) has a list holding one item per request in flight: a request appends
    when it starts and pops when it ends, both atomic on their own, so a request takes no lock
    (the lock only guards adding a new pair and reading them all).
    """

    __slots__ = ("lock", "slots")

    def __init__(self) -> None:
        self.slots: dict[tuple[str, str], list[None]] = {}
        self.lock = threading.Lock()

    def slot(self, key: tuple[str, str]) -> list[None]:
        """The list counting the requests of *key* in flight (its length is the count)."""
        found = self.slots.get(key)
        if found is None:
            with self.lock:
                found = self.slots.setdefault(key, [])
        return found

    @property
    def counts(self) -> dict[tuple[str, str], int]:
        """The number of requests in flight per (method, scheme)."""
        with self.lock:
            slots = list(self.slots.items())
        return {key: len(slot) for key, slot in slots}

    def observe(self, options: metrics.CallbackOptions) -> Iterator[metrics.Observation]:
        for (method, scheme), value in self.counts.items():
            yield metrics.Observation(value, {n.HTTP_REQUEST_METHOD: method, n.URL_SCHEME: scheme})


_ACTIVE: dict[str, _ActiveCounts] = {}
_ACTIVE_LOCK = threading.Lock()


def _active_counts(meter: metrics.Meter) -> _ActiveCounts:
    name = str(getattr(meter, "name", ""))
    with _ACTIVE_LOCK:
        found = _ACTIVE.get(name)
        if found is None:
            found = _ACTIVE[name] = _ActiveCounts()
        return found


_perf_counter = time.perf_counter
#: The span name of a request with no route yet, per method (unknown methods are ``HTTP``).
_BARE_NAMES = {OTHER_METHOD: "HTTP"}


class HttpServerTracer:
    """Creates SERVER spans and the ``http.server.*`` metrics for one plugin.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_active",
        "_duration",
        "_end_attrs",
        "_known",
        "_query_keys",
        "excludes",
        "guard",
        "options",
        "tracer",
    )

    def __init__(
        self, tracer: trace.Tracer, meter: metrics.Meter, options: Options, guard: Guard
    ) -> None:
        self.tracer = tracer
        self.options = options
        self.guard = guard
        self.excludes = bool(options.excluded_urls)
        """Whether any URL is excluded (when not, plugins skip :meth:`excluded_environ`)."""
        # Resolved once, like every option: not an environment read per request.
        self._known = known_methods()
        self._query_keys = sensitive_query_keys()
        self._duration = FastInstrument(
            meter.create_histogram(
                n.HTTP_SERVER_REQUEST_DURATION,
                unit="s",
                description="Duration of HTTP server requests.",
                explicit_bucket_boundaries_advisory=list(n.DURATION_BUCKETS_HTTP),
            )
        )
        # Active requests are counted here and observed at collection time: two dict updates
        # per request instead of two SDK measurements (the SDK's add() costs ~70 times more).
        self._active = _active_counts(meter)
        # (method, scheme, route, status, error, protocol) -> the duration's attributes and
        # the span's end-of-request attributes, built once per combination (bounded).
        self._end_attrs: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, Any]]] = {}
        meter.create_observable_up_down_counter(
            n.HTTP_SERVER_ACTIVE_REQUESTS,
            callbacks=[self._active.observe],
            unit="{request}",
            description="Number of active HTTP server requests.",
        )

    # -- exclusion ---------------------------------------------------------------------------

    def excluded_environ(self, environ: Mapping[str, Any]) -> bool:
        """Whether the request URL in a WSGI environ matches the excluded URLs."""
        if not self.options.excluded_urls:
            return False
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        scheme = environ.get("wsgi.url_scheme", "http")
        path = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
        url = f"{scheme}://{host}{path}"
        query = environ.get("QUERY_STRING")
        return self.options.excluded_urls.match(f"{url}?{query}" if query else url)

    def excluded_scope(self, scope: Mapping[str, Any]) -> bool:
        """Whether the request URL in an ASGI scope matches the excluded URLs."""
        if not self.options.excluded_urls:
            return False
        host = ""
        for name, value in scope.get("headers") or ():
            if name == b"host":
                host = value.decode("latin-1")
                break
        path = f"{scope.get('root_path', '')}{scope.get('path', '')}"
        url = f"{scope.get('scheme', 'http')}://{host}{path}"
        query = scope.get("query_string")
        if query:
            url = f"{url}?{query.decode('latin-1')}"
        return self.options.excluded_urls.match(url)

    # -- starting ----------------------------------------------------------------------------

    def start_wsgi(self, environ: Mapping[str, Any], route: str | None = None) -> ServerRequest:
        """Start the span for a WSGI request (child of the propagated context, if any)."""
        get = environ.get
        original = get("REQUEST_METHOD", "")
        known = self._known
        if type(original) is str and original in known:
            method = original
        else:
            original = str(original)
            method = normalize_method(original, known)
        scheme = get("wsgi.url_scheme", "http")
        if type(scheme) is not str:
            scheme = str(scheme)
        ctx = extract(environ, wsgi_getter)
        request = ServerRequest(self, method, scheme, route, ctx, wsgi_path(environ))
        if request.recording:
            attrs = environ_extra_attributes(environ, original, method, scheme, self._query_keys)
            capture = self.options.server_request_headers
            if capture:
                attrs.update(capture.attributes(wsgi_headers(environ)))
            request.span.set_attributes(attrs)
            request.protocol = attrs.get(n.NETWORK_PROTOCOL_VERSION)
        else:
            raw = get("SERVER_PROTOCOL", "")
            protocol = _PROTOCOL_VERSIONS.get(raw) if type(raw) is str else None
            request.protocol = protocol if protocol is not None else protocol_version(str(raw))
        return request

    def start_asgi(self, scope: Mapping[str, Any], route: str | None = None) -> ServerRequest:
        """Start the span for an ASGI ``http`` or ``websocket`` scope."""
        original = scope.get("method", "GET")
        known = self._known
        if type(original) is str and original in known:
            method = original
        else:
            original = str(original)
            method = normalize_method(original, known)
        scheme = scope_scheme(scope)
        ctx = extract(scope, asgi_getter)
        request = ServerRequest(self, method, scheme, route, ctx, scope_path(scope))
        if request.recording:
            attrs = scope_extra_attributes(scope, original, method, scheme, self._query_keys)
            capture = self.options.server_request_headers
            if capture:
                attrs.update(capture.attributes(asgi_headers(scope.get("headers") or ())))
            request.span.set_attributes(attrs)
        version = scope.get("http_version")
        if version:
            request.protocol = version if type(version) is str else str(version)
        return request

    # -- ending ------------------------------------------------------------------------------

    def end_attributes(
        self,
        method: str,
        scheme: str,
        route: str | None,
        code: int | None,
        err: str | None,
        protocol: str | None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The duration's attributes and the span's end-of-request ones (route, status code,
        error type) for one combination; the same two dicts every time (never modify them)."""
        key = (method, scheme, route, code, err, protocol)
        cache = self._end_attrs
        found = cache.get(key)
        if found is not None:
            return found
        attrs: dict[str, Any] = {n.HTTP_REQUEST_METHOD: method, n.URL_SCHEME: scheme}
        late: dict[str, Any] = {}
        if route:
            attrs[n.HTTP_ROUTE] = late[n.HTTP_ROUTE] = route
        if code is not None:
            attrs[n.HTTP_RESPONSE_STATUS_CODE] = late[n.HTTP_RESPONSE_STATUS_CODE] = code
        if err is not None:
            attrs[n.ERROR_TYPE] = late[n.ERROR_TYPE] = err
        if protocol:
            attrs[n.NETWORK_PROTOCOL_VERSION] = protocol
        found = (attrs, late)
        if len(cache) < _MAX_END_ATTRS:
            cache[key] = found
        return found


#: Combinations of end-of-request attributes remembered per tracer (route templates, status
#: codes and error types are few; beyond this they are built per request, as before).
_MAX_END_ATTRS = 2048


class ServerRequest:
    """The span, timing and metric attributes of one request; every method is guarded.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_active",
        "_ended",
        "_owner",
        "_start",
        "_token",
        "context",
        "error_type",
        "method",
        "protocol",
        "recording",
        "route",
        "scheme",
        "span",
        "status_code",
    )

    def __init__(
        self,
        owner: HttpServerTracer,
        method: str,
        scheme: str,
        route: str | None,
        ctx: Any,
        path: str,
    ) -> None:
        self._owner = owner
        self.method = method
        self.scheme = scheme
        self.route = route
        self.status_code: int | None = None
        self.error_type: str | None = None
        self.protocol: str | None = None
        self._token: Any = None
        self.context: Context | None = None
        """The context :meth:`attach` made current (the span in it), for code that must make
        it current again later (a streamed body)."""
        self._ended = False
        span = self.span = owner.tracer.start_span(
            server_span_name(method, route) if route else _BARE_NAMES.get(method, method),
            context=ctx,
            kind=SpanKind.SERVER,
            attributes={n.HTTP_REQUEST_METHOD: method, n.URL_SCHEME: scheme, n.URL_PATH: path},
        )
        self.recording = span.is_recording()
        active = self._active = owner._active.slot((method, scheme))
        active.append(None)
        self._start = _perf_counter()

    # -- context -----------------------------------------------------------------------------

    def attach(self) -> None:
        """Make the span current (until :meth:`detach`)."""
        if self._token is None:
            ctx = self.context
            if ctx is None:
                ctx = self.context = with_span(self.span)
            self._token = _attach(ctx)

    def detach(self) -> None:
        """Undo :meth:`attach` (in the same context it was attached in)."""
        token, self._token = self._token, None
        if token is not None:
            try:
                _reset(token)
            except Exception as exc:  # noqa: BLE001
                self._owner.guard.report("http.detach", exc)

    # -- facts learned while the request runs ------------------------------------------------

    def set_route(self, route: str | None) -> None:
        """The matched route template; renames the span ``{METHOD} {route}`` now (``http.route``
        is set with the other end-of-request attributes, in one pass, by :meth:`end`)."""
        if not route or route == self.route:
            return
        self.route = route
        if self.recording:
            self.span.update_name(server_span_name(self.method, route))

    def set_status_code(self, status_code: int) -> None:
        """The response status code (set on the span by :meth:`end`)."""
        try:
            self.status_code = int(status_code)
        except (TypeError, ValueError):
            return

    def response_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Capture configured response headers (``(name, value)`` text pairs)."""
        capture = self._owner.options.server_response_headers
        if capture and self.recording:
            self.span.set_attributes(capture.attributes(headers))  # type: ignore[arg-type]

    def record_exception(self, exc: BaseException) -> None:
        """An exception escaped the application: event, ERROR status and ``error.type``."""
        self.error_type = error_type(exc)
        if self.recording:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1024]))

    # -- the end -----------------------------------------------------------------------------

    def end(self) -> None:
        """Finish the span and record the metrics; calling it again does nothing."""
        if self._ended:
            return
        self._ended = True
        duration = _perf_counter() - self._start
        code = self.status_code
        err = self.error_type
        span = self.span
        recording = self.recording
        if err is None and code is not None and (code >= 500 or code < 100):
            err = str(code)  # server_status(code)[1], its rule inlined above
            if recording:
                span.set_status(Status(StatusCode.ERROR))
        owner = self._owner
        attrs, late = owner.end_attributes(
            self.method, self.scheme, self.route, code, err, self.protocol
        )
        if recording:
            if late:
                # Route, status and error type in one pass (the SDK locks and cleans per call).
                span.set_attributes(late)
            span.end()
            owner._duration.record(duration, attrs, exemplar_context(span))
        else:
            span.end()
            owner._duration.record(duration, attrs, None, sampled=False)
        self._active.pop()

    @property
    def is_other_method(self) -> bool:
        """Whether the request method is unknown (recorded as ``_OTHER``)."""
        return self.method == OTHER_METHOD
