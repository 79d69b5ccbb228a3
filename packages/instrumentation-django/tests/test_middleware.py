"""Tests for spanwise.instrumentation.django._middleware, in-process with Django's test clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import AsyncClient, Client, override_settings
from opentelemetry.trace import SpanKind, StatusCode

from spanwise.core.semconv import DURATION_BUCKETS_HTTP
from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.django import DjangoInstrumentor, TracingMiddleware

Instrument = Callable[..., DjangoInstrumentor]

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
MANUAL = ["spanwise.instrumentation.django.TracingMiddleware", *settings.MIDDLEWARE]


def _client() -> Client:
    return Client(raise_request_exception=False)


def _aget(path: str, **extra: Any) -> Any:
    async def go() -> Any:
        response = await AsyncClient(raise_request_exception=False).get(path, **extra)
        if response.streaming:
            response.body = b"".join([c async for c in response.streaming_content])
        return response

    return asyncio.run(go())


def _observable(response: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
    return response.status_code, response.content, sorted(response.items())


class TestSpans:
    def test_sync_view_span(self, instrument: Instrument, telemetry: CapturedTelemetry) -> None:
        """A sync view gives one SERVER span named after the URL pattern, with HTTP attributes."""
        instrument()
        _client().get("/users/3/?page=2&token=abc", HTTP_USER_AGENT="tests/1.0")
        span = telemetry.span("GET /users/<int:uid>/")
        expected = {
            "http.request.method": "GET",
            "url.scheme": "http",
            "url.path": "/users/3/",
            "url.query": "page=2&token=REDACTED",
            "http.route": "/users/<int:uid>/",
            "http.response.status_code": 200,
            "server.address": "testserver",
            "server.port": 80,
            "client.address": "127.0.0.1",
            "user_agent.original": "tests/1.0",
        }
        assert expected == {k: span.attributes[k] for k in expected}
        assert SpanKind.SERVER == span.kind
        assert StatusCode.UNSET == span.status.status_code

    def test_view_runs_inside_the_span(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """The server span is current while the view runs."""
        instrument()
        body = json.loads(_client().get("/users/3/").content)
        ctx = telemetry.span("GET /users/<int:uid>/").context
        assert (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}") == (
            body["trace_id"],
            body["span_id"],
        )

    def test_async_view_under_asgi(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """An async view served through Django's ASGI handler is traced and runs in the span."""
        instrument()
        body = json.loads(_aget("/async/users/4/").content)
        span = telemetry.span("GET /async/users/<int:uid>/")
        assert 200 == span.attributes["http.response.status_code"]
        assert f"{span.context.span_id:016x}" == body["span_id"]

    def test_sync_view_under_asgi(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """A sync view served through Django's ASGI handler runs in the span."""
        instrument()
        body = json.loads(_aget("/users/5/").content)
        span = telemetry.span("GET /users/<int:uid>/")
        assert f"{span.context.span_id:016x}" == body["span_id"]

    def test_async_view_under_wsgi(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """An async view served through the WSGI handler is traced."""
        instrument()
        assert 200 == _client().get("/async/users/6/").status_code
        assert 1 == len(telemetry.spans())

    def test_unmatched_url_is_named_after_the_method(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """A URL no pattern matches gives a span named ``GET`` without a route, 404, no error."""
        instrument()
        assert 404 == _client().get("/nowhere/").status_code
        span = telemetry.span("GET")
        assert "http.route" not in span.attributes
        assert 404 == span.attributes["http.response.status_code"]
        assert StatusCode.UNSET == span.status.status_code

    def test_http404_from_a_view_is_not_an_error(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Http404 raised by a view keeps the route and is not recorded as an error."""
        instrument()
        _client().get("/missing/")
        span = telemetry.span("GET /missing/")
        assert (StatusCode.UNSET, ()) == (span.status.status_code, tuple(span.events))
        assert "error.type" not in span.attributes

    def test_disallowed_host(self, instrument: Instrument, telemetry: CapturedTelemetry) -> None:
        """A Host header outside ALLOWED_HOSTS gets Django's 400 and a span, never a crash."""
        instrument()
        response = _client().get("/users/1/", HTTP_HOST="evil.example")
        assert 400 == response.status_code
        span = telemetry.span("GET")
        assert 400 == span.attributes["http.response.status_code"]
        assert StatusCode.UNSET == span.status.status_code

    def test_other_method(self, instrument: Instrument, telemetry: CapturedTelemetry) -> None:
        """An unknown method is recorded as ``_OTHER`` with the original kept aside."""
        instrument()
        _client().generic("FROB", "/users/1/")
        span = telemetry.span("HTTP /users/<int:uid>/")
        assert ("_OTHER", "FROB") == (
            span.attributes["http.request.method"],
            span.attributes["http.request.method_original"],
        )

    def test_streaming_span_ends_when_the_response_is_closed(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """A streaming response's span ends when the body is done and the response closed."""
        instrument()
        response = _client().get("/stream/")
        assert [] == telemetry.spans()
        assert b"one,two,three" == b"".join(response.streaming_content)
        assert 200 == telemetry.span("GET /stream/").attributes["http.response.status_code"]

    def test_async_streaming(self, instrument: Instrument, telemetry: CapturedTelemetry) -> None:
        """An async streaming response under ASGI is delivered whole and its span ends."""
        instrument()
        assert b"one,two,three" == _aget("/async/stream/").body
        assert 1 == len(telemetry.spans())


class TestExceptions:
    @pytest.mark.parametrize(
        ("path", "name", "message"),
        [("/boom/", "GET /boom/", "boom"), ("/async/boom/", "GET /async/boom/", "async boom")],
    )
    def test_view_exception_wsgi(
        self,
        instrument: Instrument,
        telemetry: CapturedTelemetry,
        path: str,
        name: str,
        message: str,
    ) -> None:
        """A view's unhandled exception: one exception event, ERROR, error.type, 500 as usual."""
        instrument()
        assert 500 == _client().get(path).status_code
        span = telemetry.span(name)
        assert (StatusCode.ERROR, ("exception",), "ValueError", 500) == (
            span.status.status_code,
            tuple(e.name for e in span.events),
            span.attributes["error.type"],
            span.attributes["http.response.status_code"],
        )
        assert message == span.events[0].attributes["exception.message"]

    def test_view_exception_asgi(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Under ASGI the async view's exception is recorded the same way."""
        instrument()
        assert 500 == _aget("/async/boom/").status_code
        span = telemetry.span("GET /async/boom/")
        assert ("ValueError", ("exception",)) == (
            span.attributes["error.type"],
            tuple(e.name for e in span.events),
        )

    def test_exception_propagates_unchanged(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """With DEBUG_PROPAGATE_EXCEPTIONS the app's own exception reaches the caller, recorded once."""
        instrument()
        with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True):
            with pytest.raises(ValueError, match=r"^boom$"):
                Client().get("/boom/")
        span = telemetry.span("GET /boom/")
        assert (StatusCode.ERROR, ("exception",)) == (
            span.status.status_code,
            tuple(e.name for e in span.events),
        )

    def test_5xx_response_without_exception_is_an_error(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """A 503 returned by a view is an error with error.type ``503``; a 418 is not."""
        instrument()
        _client().get("/status/503/")
        _client().get("/status/418/")
        spans = {s.attributes["http.response.status_code"]: s for s in telemetry.spans()}
        assert (StatusCode.ERROR, "503") == (
            spans[503].status.status_code,
            spans[503].attributes["error.type"],
        )
        assert StatusCode.UNSET == spans[418].status.status_code


class TestPropagation:
    def test_traceparent_makes_a_child_wsgi(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """An incoming traceparent makes the server span a child of the remote parent (WSGI)."""
        instrument()
        _client().get("/users/1/", HTTP_TRACEPARENT=TRACEPARENT)
        span = telemetry.span("GET /users/<int:uid>/")
        assert (TRACE_ID, PARENT_ID, True) == (
            f"{span.context.trace_id:032x}",
            f"{span.parent.span_id:016x}",
            span.parent.is_remote,
        )

    def test_traceparent_makes_a_child_asgi(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """An incoming traceparent makes the server span a child of the remote parent (ASGI)."""
        instrument()
        _aget("/async/users/1/", headers={"traceparent": TRACEPARENT})
        span = telemetry.span("GET /async/users/<int:uid>/")
        assert (TRACE_ID, PARENT_ID) == (
            f"{span.context.trace_id:032x}",
            f"{span.parent.span_id:016x}",
        )

    @pytest.mark.parametrize(
        "header",
        ["00-zz-yy-01", "garbage", f"00-{'0' * 32}-{PARENT_ID}-01", "\udcff" * 5, "x" * 10_000],
    )
    def test_malformed_traceparent_starts_a_fresh_trace(
        self, instrument: Instrument, telemetry: CapturedTelemetry, header: str
    ) -> None:
        """A malformed traceparent is ignored: a new root span, the request served normally."""
        instrument()
        response = _client().get("/users/1/", HTTP_TRACEPARENT=header, HTTP_TRACESTATE="=,=;;")
        assert 200 == response.status_code
        assert telemetry.span("GET /users/<int:uid>/").parent is None


class TestOptions:
    def test_excluded_urls_keyword(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """URLs matching excluded_urls are served without a span; others still get one."""
        instrument(excluded_urls="users/.*,healthz")
        assert 200 == _client().get("/users/1/").status_code
        _client().get("/")
        assert ["GET /"] == [s.name for s in telemetry.spans()]

    def test_excluded_urls_environment(
        self, instrument: Instrument, telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_PYTHON_DJANGO_EXCLUDED_URLS excludes URLs, under ASGI too."""
        monkeypatch.setenv("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "async/users")
        instrument()
        assert 200 == _aget("/async/users/1/").status_code
        assert [] == telemetry.spans()

    def test_header_capture_with_sanitizing(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Configured headers are captured; credentials and sanitized fields are redacted."""
        instrument(
            capture_request_headers=["x-request-id", "authorization"],
            capture_response_headers=["x-custom", "x-secret-token"],
            sanitize_fields=["x-secret-.*"],
        )
        _client().get("/headers/", HTTP_X_REQUEST_ID="r-1", HTTP_AUTHORIZATION="Bearer s3cr3t")
        attrs = telemetry.span("GET /headers/").attributes
        assert {
            "http.request.header.x_request_id": ("r-1",),
            "http.request.header.authorization": ("[REDACTED]",),
            "http.response.header.x_custom": ("custom-value",),
            "http.response.header.x_secret_token": ("[REDACTED]",),
        } == {k: tuple(v) for k, v in attrs.items() if ".header." in k}

    def test_header_capture_under_asgi(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Request headers are captured from the ASGI scope."""
        instrument(capture_request_headers=["x-request-id"])
        _aget("/async/users/1/", headers={"x-request-id": "r-2"})
        attrs = telemetry.span("GET /async/users/<int:uid>/").attributes
        assert ("r-2",) == tuple(attrs["http.request.header.x_request_id"])

    def test_hooks_see_span_request_response_and_user(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """request_hook gets (span, request); response_hook (span, request, response) with user."""

        def request_hook(span: Any, request: Any) -> None:
            span.set_attribute("test.path", request.path)

        def response_hook(span: Any, request: Any, response: Any) -> None:
            span.set_attribute("test.anonymous", request.user.is_anonymous)
            span.set_attribute("test.length", len(response.content))

        instrument(request_hook=request_hook, response_hook=response_hook)
        _client().get("/me/")
        attrs = telemetry.span("GET /me/").attributes
        assert ("/me/", True, len(b'{"authenticated": false}')) == (
            attrs["test.path"],
            attrs["test.anonymous"],
            attrs["test.length"],
        )

    def test_failing_hooks_never_reach_the_app(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Hooks that raise are reported by the guard; the response and span are unaffected."""

        def broken(*args: Any) -> None:
            raise RuntimeError("hook bug")

        instrumentor = instrument(request_hook=broken, response_hook=broken)
        before = dict(instrumentor.guard.failures)
        response = _client().get("/users/2/")
        assert 200 == response.status_code
        assert 1 == len(telemetry.spans())
        failures = instrumentor.guard.failures
        assert (1, 1) == (
            failures["django.request_hook"] - before.get("django.request_hook", 0),
            failures["django.response_hook"] - before.get("django.response_hook", 0),
        )


class TestMetrics:
    def test_duration_and_active_requests(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Duration histogram (semconv buckets, low-cardinality attributes) and active requests."""
        instrument()
        telemetry.metrics()
        _client().get("/users/1/")
        _client().get("/users/2/")
        _client().get("/boom/")
        data = telemetry.metrics(scope="spanwise.instrumentation.django")
        points = {p.attributes.get("http.route"): p for p in data["http.server.request.duration"]}
        assert {
            "http.request.method": "GET",
            "url.scheme": "http",
            "http.route": "/users/<int:uid>/",
            "http.response.status_code": 200,
            "network.protocol.version": "1.1",
        } == dict(points["/users/<int:uid>/"].attributes)
        assert 2 == points["/users/<int:uid>/"].count
        assert list(DURATION_BUCKETS_HTTP) == list(points["/users/<int:uid>/"].explicit_bounds)
        assert "ValueError" == points["/boom/"].attributes["error.type"]
        # The up-down counter is cumulative: series from earlier tests (e.g. _OTHER) remain.
        active = data["http.server.active_requests"]
        assert [0] == [p.value for p in active if p.attributes["http.request.method"] == "GET"]

    def test_unsampled_requests_still_measured(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Unsampled: no span, hooks not called, the response unchanged, metrics recorded."""
        called: list[Any] = []
        instrument(request_hook=lambda *a: called.append(a))
        telemetry.sample(False)
        telemetry.metrics()
        response = _client().get("/users/1/")
        assert (200, [], []) == (response.status_code, telemetry.spans(), called)
        points = telemetry.metrics()["http.server.request.duration"]
        assert "/users/<int:uid>/" == points[0].attributes["http.route"]


class TestTransparency:
    @pytest.mark.parametrize(
        "path",
        ["/api/items/abc/", "/nowhere/", "/boom/", "/missing/", "/headers/", "/legacy/9/", "/me/"],
    )
    def test_response_identical_to_uninstrumented(self, instrument: Instrument, path: str) -> None:
        """Status, body and headers are exactly what Django produces without us."""
        bare = _observable(_client().get(path))
        instrument()
        assert bare == _observable(_client().get(path))

    def test_manual_middleware_is_not_added_twice(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """TracingMiddleware listed in MIDDLEWARE plus instrument() gives one span per request."""
        instrument()
        with override_settings(MIDDLEWARE=MANUAL):
            _client().get("/users/1/")
            _aget("/async/users/1/")
        assert ["GET /users/<int:uid>/", "GET /async/users/<int:uid>/"] == [
            s.name for s in telemetry.spans()
        ]

    def test_middleware_passes_through_when_uninstrumented(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """A handler built while instrumented stops tracing after uninstrument()."""
        instrumentor = instrument()
        client = _client()
        client.get("/users/1/")
        instrumentor.uninstrument()
        assert 200 == client.get("/users/1/").status_code
        assert 1 == len(telemetry.spans())

    def test_middleware_is_async_capable(self, instrument: Instrument) -> None:
        """The middleware declares both modes and marks itself a coroutine for async chains."""
        from asgiref.sync import iscoroutinefunction

        async def chain(request: Any) -> Any:
            return None

        instrument()
        assert (True, True) == (TracingMiddleware.sync_capable, TracingMiddleware.async_capable)
        assert (True, False) == (
            iscoroutinefunction(TracingMiddleware(chain)),
            iscoroutinefunction(TracingMiddleware(lambda request: None)),
        )
