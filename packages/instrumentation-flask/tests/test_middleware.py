"""spanwise.instrumentation.flask._middleware, through Werkzeug's test client (in process)."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import Client

from .apps.views import AppError, make_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT}-01"


def get(app: Any, path: str, **kwargs: Any) -> tuple[int, bytes]:
    """One request through the test client; the response is read and closed."""
    with app.test_client().open(path, **kwargs) as response:
        return response.status_code, response.get_data()


def servers(telemetry: Any) -> list[str]:
    """Names of the SERVER spans finished so far."""
    return [s.name for s in telemetry.spans() if s.kind is SpanKind.SERVER]


class TestServerSpan:
    def test_named_after_method_and_route_template(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """GET /users/7 gives one SERVER span 'GET /users/<int:uid>'."""
        instrumentor.instrument()
        get(app, "/users/7")
        span = telemetry.span("GET /users/<int:uid>")
        assert (SpanKind.SERVER, "/users/<int:uid>") == (span.kind, span.attributes["http.route"])

    def test_stable_http_attributes(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """Method, scheme, path, redacted query, status, server, client, user agent, protocol."""
        instrumentor.instrument()
        get(
            app,
            "/users/7?page=2&password=hunter2",
            headers={"User-Agent": "tests/1.0"},
            environ_base={"REMOTE_ADDR": "10.1.2.3"},
        )
        expected = {
            "http.request.method": "GET",
            "url.scheme": "http",
            "url.path": "/users/7",
            "url.query": "page=2&password=REDACTED",
            "http.route": "/users/<int:uid>",
            "http.response.status_code": 200,
            "server.address": "localhost",
            "server.port": 80,
            "client.address": "10.1.2.3",
            "network.peer.address": "10.1.2.3",
            "user_agent.original": "tests/1.0",
            "network.protocol.version": "1.1",
        }
        assert expected == dict(telemetry.span("GET /users/<int:uid>").attributes)

    def test_blueprint_route(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """A blueprint view is named with the prefixed template."""
        instrumentor.instrument()
        get(app, "/api/items/pen", method="POST")
        assert (
            "/api/items/<name>" == telemetry.span("POST /api/items/<name>").attributes["http.route"]
        )

    def test_no_route_when_nothing_matched(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """A 404 is named by the method alone, has no http.route and is not an error."""
        instrumentor.instrument()
        assert 404 == get(app, "/nowhere")[0]
        span = telemetry.span("GET")
        assert (False, StatusCode.UNSET, 404) == (
            "http.route" in span.attributes,
            span.status.status_code,
            span.attributes["http.response.status_code"],
        )

    def test_unknown_method_is_other(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """An unknown method is recorded as _OTHER and the span called HTTP."""
        instrumentor.instrument()
        assert 405 == get(app, "/users/7", method="FROB")[0]
        assert "_OTHER" == telemetry.span("HTTP").attributes["http.request.method"]

    def test_view_spans_are_children(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """Spans started in the view nest under the SERVER span."""
        instrumentor.instrument()
        get(app, "/users/7")
        telemetry.assert_tree(
            """
            GET /users/<int:uid> [SERVER]
            └── load user [INTERNAL]
            """
        )

    def test_abort_4xx_is_not_an_error(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """abort(418) leaves the span status unset, with no error.type."""
        instrumentor.instrument()
        assert 418 == get(app, "/teapot")[0]
        span = telemetry.span("GET /teapot")
        assert (StatusCode.UNSET, False) == (
            span.status.status_code,
            "error.type" in span.attributes,
        )


class TestPropagation:
    def test_remote_parent(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """An incoming traceparent makes the SERVER span its child."""
        instrumentor.instrument()
        get(app, "/users/7", headers={"traceparent": TRACEPARENT})
        span = telemetry.span("GET /users/<int:uid>")
        assert (int(TRACE_ID, 16), int(PARENT, 16), True) == (
            span.context.trace_id,
            span.parent.span_id,
            span.parent.is_remote,
        )

    @pytest.mark.parametrize(
        "headers",
        [
            {"traceparent": "00-zzzz-not-a-traceparent"},
            {"traceparent": "00-" + "0" * 32 + "-" + "0" * 16 + "-01"},
            {"traceparent": TRACEPARENT, "tracestate": "=,=;" * 200, "baggage": "%%%;;=="},
            {"traceparent": "00-" + "a" * 9000},
            {"traceparent": "00-\xff\xfe-\x00", "baggage": "k=\xff\xfe", "User-Agent": "\xff"},
        ],
    )
    def test_malformed_headers_start_a_fresh_trace(
        self, instrumentor: Any, app: Any, telemetry: Any, headers: dict[str, str]
    ) -> None:
        """Hostile propagation headers never fail the request; a bad traceparent is ignored."""
        bare = get(make_app(), "/users/7", headers=headers)
        instrumentor.instrument()
        traced = get(app, "/users/7", headers=headers)
        span = telemetry.span("GET /users/<int:uid>")
        valid = headers["traceparent"] == TRACEPARENT
        assert (bare, valid) == (traced, span.parent is not None)


class TestExceptions:
    def test_unhandled_exception_response_is_unchanged(
        self, instrumentor: Any, telemetry: Any
    ) -> None:
        """Flask's own 500 response comes back byte for byte as uninstrumented."""
        bare = get(make_app(), "/boom")
        instrumentor.instrument()
        assert bare == get(make_app(), "/boom")

    def test_unhandled_exception_is_recorded(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """One exception event, status ERROR, error.type the exception's class."""
        instrumentor.instrument()
        get(app, "/boom")
        span = telemetry.span("GET /boom")
        assert (
            ["exception"],
            StatusCode.ERROR,
            "tests.apps.views.AppError",
            500,
        ) == (
            [e.name for e in span.events],
            span.status.status_code,
            span.attributes["error.type"].removeprefix("packages.instrumentation-flask."),
            span.attributes["http.response.status_code"],
        )

    def test_propagated_exception_reaches_the_caller(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """With PROPAGATE_EXCEPTIONS the same exception object escapes; recorded once."""
        app.config["PROPAGATE_EXCEPTIONS"] = True
        instrumentor.instrument()
        with pytest.raises(AppError, match="boom"):
            get(app, "/boom")
        span = telemetry.span("GET")
        assert (["exception"], StatusCode.ERROR) == (
            [e.name for e in span.events],
            span.status.status_code,
        )

    def test_metric_has_error_type(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """The duration metric of a failed request carries error.type and status 500."""
        instrumentor.instrument()
        telemetry.metrics()
        get(app, "/boom")
        [point] = telemetry.metrics()["http.server.request.duration"]
        assert (500, True) == (
            point.attributes["http.response.status_code"],
            point.attributes["error.type"].endswith("AppError"),
        )


class TestStreaming:
    def test_span_ends_when_the_response_is_closed(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """A streamed response keeps its span open until the server closes the body."""
        instrumentor.instrument()
        response = app.test_client().get("/stream")
        before = telemetry.spans()
        data = response.get_data()
        response.close()
        assert ([], b"chunk0;chunk1;chunk2;", ["GET /stream"]) == (
            before,
            data,
            [s.name for s in telemetry.spans()],
        )

    def test_spans_started_while_streaming_are_children(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """Spans a streaming generator starts nest under the request's span."""
        instrumentor.instrument()
        assert (200, b"xx") == get(app, "/stream-traced")
        telemetry.assert_tree(
            """
            GET /stream-traced [SERVER]
            ├── chunk 0 [INTERNAL]
            └── chunk 1 [INTERNAL]
            """
        )

    def test_failure_while_streaming_is_recorded(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """An exception from the streaming generator reaches the server and the span."""
        instrumentor.instrument()
        response = app.test_client().get("/stream-fails")
        with pytest.raises(AppError, match="mid-stream"):
            response.get_data()
        response.close()
        span = telemetry.span("GET /stream-fails")
        assert (StatusCode.ERROR, 200) == (
            span.status.status_code,
            span.attributes["http.response.status_code"],
        )

    def test_send_file_works(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """send_file (a wsgi.file_wrapper body) serves the same bytes and is traced."""
        bare = get(make_app(), "/file")
        instrumentor.instrument()
        assert (bare, ["GET /file"]) == (get(app, "/file"), servers(telemetry))


class TestOptions:
    def test_excluded_urls(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """Excluded URLs are served without a span."""
        instrumentor.instrument(excluded_urls="/users/.*,/teapot")
        get(app, "/users/1")
        get(app, "/teapot")
        get(app, "/api/items/a")
        assert ["GET /api/items/<name>"] == servers(telemetry)

    def test_excluded_urls_from_environment(
        self, instrumentor: Any, app: Any, telemetry: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_PYTHON_FLASK_EXCLUDED_URLS excludes too."""
        monkeypatch.setenv("OTEL_PYTHON_FLASK_EXCLUDED_URLS", "teapot")
        instrumentor.instrument()
        get(app, "/teapot")
        assert [] == telemetry.spans()

    def test_hooks(self, instrumentor: Any, app: Any, telemetry: Any) -> None:
        """request_hook(span, environ) and response_hook(span, status, headers) run."""

        def request_hook(span: Any, environ: dict[str, Any]) -> None:
            span.set_attribute("hook.path", environ["PATH_INFO"])

        def response_hook(span: Any, status: str, headers: list[tuple[str, str]]) -> None:
            span.set_attribute("hook.status", status)

        instrumentor.instrument(request_hook=request_hook, response_hook=response_hook)
        get(app, "/users/7")
        attrs = telemetry.span("GET /users/<int:uid>").attributes
        assert ("/users/7", "200 OK") == (attrs["hook.path"], attrs["hook.status"])

    def test_failing_hooks_do_not_reach_the_app(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """Hooks that raise are swallowed: same response, span still recorded."""

        def broken(*args: Any) -> None:
            raise RuntimeError("hook bug")

        bare = get(make_app(), "/users/7")
        instrumentor.instrument(request_hook=broken, response_hook=broken)
        traced = get(app, "/users/7")
        assert (bare, 1) == (traced, len(servers(telemetry)))

    def test_captured_headers_are_sanitized(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """Captured request/response headers are recorded; credentials and cookies hidden."""
        instrumentor.instrument(
            capture_request_headers=["x-app", "authorization"],
            capture_response_headers=["x-reply", "set-cookie"],
        )
        get(app, "/headers", headers={"X-App": "a", "Authorization": "Bearer s3cret"})
        attrs = telemetry.span("GET /headers").attributes
        assert (("a",), ("[REDACTED]",), ("yes",), ("[REDACTED]",)) == (
            attrs["http.request.header.x_app"],
            attrs["http.request.header.authorization"],
            attrs["http.response.header.x_reply"],
            attrs["http.response.header.set_cookie"],
        )


class TestMetrics:
    def test_duration_and_active_requests_with_route_not_path(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """Two paths on one route: one series keyed by the template (never the path); every
        active request was ended."""
        instrumentor.instrument()
        telemetry.metrics()
        get(app, "/users/1")
        get(app, "/users/2")
        found = telemetry.metrics()
        [point] = found["http.server.request.duration"]
        expected = {
            "http.request.method": "GET",
            "url.scheme": "http",
            "http.route": "/users/<int:uid>",
            "http.response.status_code": 200,
            "network.protocol.version": "1.1",
        }
        active = found["http.server.active_requests"]
        assert (expected, 2, True, 0) == (
            dict(point.attributes),
            point.count,
            bool(active),
            sum(p.value for p in active),
        )

    def test_unsampled_records_metrics_but_no_span(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """Unsampled requests export no span, but are measured."""
        instrumentor.instrument()
        telemetry.sample(False)
        telemetry.metrics()
        get(app, "/users/1")
        points = telemetry.metrics()["http.server.request.duration"]
        assert ([], 1, "/users/<int:uid>") == (
            telemetry.spans(),
            points[0].count,
            points[0].attributes["http.route"],
        )


class TestEntryPoints:
    def test_app_made_before_instrument(self, instrumentor: Any, telemetry: Any) -> None:
        """An app created before instrument() is traced."""
        early = make_app()
        instrumentor.instrument()
        get(early, "/users/1")
        assert ["GET /users/<int:uid>"] == servers(telemetry)

    def test_wsgi_app_wrapped_by_middleware_before_instrument(
        self, instrumentor: Any, telemetry: Any
    ) -> None:
        """app.wsgi_app = ProxyFix(app.wsgi_app) before instrument(): traced once."""
        early = make_app()
        early.wsgi_app = ProxyFix(early.wsgi_app)  # type: ignore[method-assign]
        instrumentor.instrument()
        get(early, "/users/1")
        assert ["GET /users/<int:uid>"] == servers(telemetry)

    def test_wsgi_app_called_directly(self, instrumentor: Any, telemetry: Any) -> None:
        """DispatcherMiddleware over app.wsgi_app: one span per request, route known."""
        instrumentor.instrument()
        inner = make_app()
        outer = DispatcherMiddleware(make_app(), {"/inner": inner.wsgi_app})
        response = Client(outer).get("/inner/users/3")
        response.close()
        assert ["GET /users/<int:uid>"] == servers(telemetry)


class _BrokenPropagator:
    """A propagator whose every method raises."""

    fields: set[str] = set()

    def extract(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken propagator")

    def inject(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("broken propagator")


class TestHostilePropagator:
    def test_failing_extract_serves_the_request_in_a_fresh_trace(
        self, instrumentor: Any, app: Any, telemetry: Any
    ) -> None:
        """extract() raising in the global propagator: same response, a root SERVER span."""
        from opentelemetry import propagate

        bare = get(make_app(), "/users/7", headers={"traceparent": TRACEPARENT})
        previous = propagate.get_global_textmap()
        propagate.set_global_textmap(_BrokenPropagator())  # type: ignore[arg-type]
        try:
            instrumentor.instrument()
            traced = get(app, "/users/7", headers={"traceparent": TRACEPARENT})
        finally:
            propagate.set_global_textmap(previous)
        span = telemetry.span("GET /users/<int:uid>")
        assert (bare, None) == (traced, span.parent)
