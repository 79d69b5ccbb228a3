"""One outgoing HTTP request, traced and measured the same way by every client plugin."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._config import Options
from ._context import exemplar_context
from ._fast_instrument import FastInstrument
from ._guard import Guard
from .semconv import _names as n
from .semconv._http import (
    OTHER_METHOD,
    client_status,
    error_type,
    known_methods,
    normalize_method,
    redact_url,
    sensitive_query_keys,
)

__all__ = ["ClientRequest", "HttpClientTracer"]

_MAX_URLS = 256
"""URLs whose parsed parts a tracer remembers; when full, it forgets them all and starts over."""
_MAX_END_ATTRS = 2048
"""Combinations of the duration's attributes remembered per tracer (destinations, methods,
status codes and error types are few; beyond this they are built per request)."""


class _Destination:
    """What one URL gives every request to it: scheme, server address and port, ``url.full``."""

    __slots__ = ("scheme", "server_address", "server_port", "url_full")

    def __init__(self, url: str, query_keys: frozenset[str]) -> None:
        try:
            parts = urlsplit(url)
            scheme = parts.scheme or "http"
            address = parts.hostname
            port = parts.port
        except ValueError:
            scheme, address, port = "http", None, None
        self.scheme = scheme
        self.server_address = address
        self.server_port = port or (443 if scheme == "https" else 80)
        self.url_full = redact_url(url, query_keys)


class HttpClientTracer:
    """Creates CLIENT spans and the ``http.client.request.duration`` metric for one plugin.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_destinations",
        "_duration",
        "_end_attrs",
        "_known",
        "_query_keys",
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
        # Resolved once, like every option: not an environment read per request.
        self._known = known_methods()
        self._query_keys = sensitive_query_keys()
        # URL -> its parsed, redacted parts: a pure function of the URL (and the keys above).
        self._destinations: dict[str, _Destination] = {}
        # The duration's attributes per combination: the same dict each time, so the metric
        # finds it by identity instead of building and hashing a key from a new one.
        self._end_attrs: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._duration = FastInstrument(
            meter.create_histogram(
                n.HTTP_CLIENT_REQUEST_DURATION,
                unit="s",
                description="Duration of HTTP client requests.",
                explicit_bucket_boundaries_advisory=list(n.DURATION_BUCKETS_HTTP),
            )
        )

    def excluded(self, url: str) -> bool:
        """Whether *url* matches the excluded URLs."""
        return self.options.excluded_urls.match(url)

    def start(self, method: str, url: str) -> ClientRequest:
        """Start a CLIENT span (current context as parent); make it current to inject."""
        return ClientRequest(self, method, url)

    def end_attributes(
        self,
        method: str,
        scheme: str,
        address: str | None,
        port: int,
        code: int | None,
        err: str | None,
        protocol: str | None,
    ) -> dict[str, Any]:
        """The duration's attributes for one combination; the same dict every time (never
        modify it). Bounded: beyond :data:`_MAX_END_ATTRS` combinations they are built per
        request.

        .. versionadded:: 0.1.0
        """
        key = (method, scheme, address, port, code, err, protocol)
        cache = self._end_attrs
        found = cache.get(key)
        if found is not None:
            return found
        attrs: dict[str, Any] = {
            n.HTTP_REQUEST_METHOD: method,
            n.SERVER_PORT: port,
            n.URL_SCHEME: scheme,
        }
        if address:
            attrs[n.SERVER_ADDRESS] = address
        if code is not None:
            attrs[n.HTTP_RESPONSE_STATUS_CODE] = code
        if err is not None:
            attrs[n.ERROR_TYPE] = err
        if protocol:
            attrs[n.NETWORK_PROTOCOL_VERSION] = protocol
        if len(cache) < _MAX_END_ATTRS:
            cache[key] = attrs
        return attrs

    def _destination(self, url: str) -> _Destination:
        destinations = self._destinations
        found = destinations.get(url)
        if found is None:
            found = _Destination(url, self._query_keys)
            if len(destinations) >= _MAX_URLS:
                destinations.clear()
            destinations[url] = found
        return found


class ClientRequest:
    """The span, timing and metric attributes of one outgoing request.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_applied",
        "_ended",
        "_owner",
        "_start",
        "error_type",
        "method",
        "protocol",
        "recording",
        "scheme",
        "server_address",
        "server_port",
        "span",
        "status_code",
    )

    def __init__(self, owner: HttpClientTracer, method_original: str, url: str) -> None:
        self._owner = owner
        self.method = method = normalize_method(method_original, owner._known)
        self.status_code: int | None = None
        self.error_type: str | None = None
        self.protocol: str | None = None
        self._ended = False
        self._applied = False
        dest = owner._destination(url)
        self.scheme = dest.scheme
        self.server_address = address = dest.server_address
        self.server_port = port = dest.server_port
        # All four are sampling-relevant for a CLIENT span: given at start, set in one pass.
        attrs: dict[str, Any] = {n.HTTP_REQUEST_METHOD: method, n.SERVER_PORT: port}
        if address:
            attrs[n.SERVER_ADDRESS] = address
        attrs[n.URL_FULL] = dest.url_full
        if method == OTHER_METHOD:
            attrs[n.HTTP_REQUEST_METHOD_ORIGINAL] = method_original
        self.span = span = owner.tracer.start_span(
            "HTTP" if method == OTHER_METHOD else method, kind=SpanKind.CLIENT, attributes=attrs
        )
        self.recording = span.is_recording()
        self._start = time.perf_counter()

    def request_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Capture configured request headers."""
        capture = self._owner.options.client_request_headers
        if capture and self.recording:
            self.span.set_attributes(capture.attributes(headers))  # type: ignore[arg-type]

    def response_headers(self, headers: Iterable[tuple[str, str]]) -> None:
        """Capture configured response headers."""
        capture = self._owner.options.client_response_headers
        if capture and self.recording:
            self.span.set_attributes(capture.attributes(headers))  # type: ignore[arg-type]

    def set_status_code(self, status_code: int) -> None:
        """The response status code (set on the span by :meth:`end`)."""
        try:
            self.status_code = int(status_code)
        except (TypeError, ValueError):
            return

    def set_response(self, status_code: int, protocol: str | None = None) -> None:
        """The response status code and protocol version, set on the span now in one pass (a
        response hook run afterwards sees them); the metric takes them at :meth:`end`.

        .. versionadded:: 0.2.0
        """
        self.protocol = protocol
        try:
            code = self.status_code = int(status_code)
        except (TypeError, ValueError):
            code = None
        if not self.recording:
            return
        late: dict[str, Any] = {}
        if code is not None:
            late[n.HTTP_RESPONSE_STATUS_CODE] = code
            if self.error_type is None:
                _, err = client_status(code)
                if err is not None:
                    self.span.set_status(Status(StatusCode.ERROR))
                    late[n.ERROR_TYPE] = err
        if protocol:
            late[n.NETWORK_PROTOCOL_VERSION] = protocol
        if late:
            self.span.set_attributes(late)
            self._applied = True

    def record_exception(self, exc: BaseException) -> None:
        """The request failed with *exc* (connection refused, timeout …)."""
        self.error_type = error_type(exc)
        self._applied = False  # error.type changed: set again at end
        if self.recording:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:1024]))

    def end(self) -> None:
        """Finish the span and record the duration; calling it again does nothing."""
        if self._ended:
            return
        self._ended = True
        duration = time.perf_counter() - self._start
        code = self.status_code
        err = self.error_type
        span = self.span
        recording = self.recording and not self._applied
        if err is None and code is not None:
            status, err = client_status(code)
            if status is StatusCode.ERROR and recording:
                span.set_status(Status(StatusCode.ERROR))
        if recording and (code is not None or err is not None):
            # Status and error type in one pass (the SDK locks and cleans per call).
            late: dict[str, Any] = {}
            if code is not None:
                late[n.HTTP_RESPONSE_STATUS_CODE] = code
            if err is not None:
                late[n.ERROR_TYPE] = err
            span.set_attributes(late)
        span.end()
        attrs = self._owner.end_attributes(
            self.method,
            self.scheme,
            self.server_address,
            self.server_port,
            code,
            err,
            self.protocol,
        )
        if self.recording:
            self._owner._duration.record(duration, attrs, exemplar_context(span))
        else:
            self._owner._duration.record(duration, attrs, None, sampled=False)
