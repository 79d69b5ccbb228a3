"""The shared HTTP server, HTTP client and database tracers."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from spanwise.core import DbClientTracer, Guard, HttpClientTracer, HttpServerTracer, Options
from spanwise.core.testing import CapturedTelemetry

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def tracers(**options: Any) -> tuple[trace.Tracer, Any, Options, Guard]:
    opts = Options.build("test", options)
    return (
        trace.get_tracer("test"),
        __import__("opentelemetry.metrics").metrics.get_meter("test"),
        opts,
        Guard("test"),
    )


def environ(**extra: Any) -> dict[str, Any]:
    base = {
        "REQUEST_METHOD": "GET",
        "wsgi.url_scheme": "http",
        "PATH_INFO": "/users/1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    base.update(extra)
    return base


class TestHttpServerTracer:
    def test_request_lifecycle(self, telemetry: CapturedTelemetry) -> None:
        """One SERVER span named by route, with status and the two metrics."""
        server = HttpServerTracer(*tracers())
        request = server.start_wsgi(environ(HTTP_TRACEPARENT=TRACEPARENT))
        request.set_route("/users/<id>")
        request.set_status_code(200)
        request.end()
        span = telemetry.span("GET /users/<id>")
        assert (
            span.kind,
            span.context.trace_id,
            span.parent.span_id if span.parent else None,
        ) == (SpanKind.SERVER, 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7)
        assert span.attributes is not None
        assert (
            span.attributes["http.response.status_code"],
            span.attributes["http.route"],
            span.attributes["url.path"],
        ) == (200, "/users/<id>", "/users/1")
        points = telemetry.metrics()
        (duration,) = points["http.server.request.duration"]
        assert dict(duration.attributes) == {
            "http.request.method": "GET",
            "url.scheme": "http",
            "http.route": "/users/<id>",
            "http.response.status_code": 200,
            "network.protocol.version": "1.1",
        }
        assert duration.count == 1
        (active,) = points["http.server.active_requests"]
        assert (
            active.value,
            dict(active.attributes),
        ) == (0, {"http.request.method": "GET", "url.scheme": "http"})

    def test_5xx_is_error_4xx_is_not(self, telemetry: CapturedTelemetry) -> None:
        """Status rules: 500 sets ERROR and error.type, 404 leaves UNSET."""
        server = HttpServerTracer(*tracers())
        for code in (404, 500):
            request = server.start_wsgi(environ())
            request.set_status_code(code)
            request.end()
        statuses = [
            (
                s.attributes["http.response.status_code"],
                s.status.status_code,
                s.attributes.get("error.type"),
            )
            for s in telemetry.spans()
        ]  # type: ignore[index,union-attr]
        assert statuses == [(404, StatusCode.UNSET, None), (500, StatusCode.ERROR, "500")]

    def test_exception_recorded(self, telemetry: CapturedTelemetry) -> None:
        """An escaped exception: event, ERROR, error.type on span and metric."""
        server = HttpServerTracer(*tracers())
        request = server.start_wsgi(environ())
        request.record_exception(ValueError("boom"))
        request.end()
        span = telemetry.spans()[0]
        assert (
            span.events[0].name,
            span.status.status_code,
            span.attributes["error.type"],  # type: ignore[index]
        ) == ("exception", StatusCode.ERROR, "ValueError")
        (point,) = telemetry.metrics()["http.server.request.duration"]
        assert point.attributes["error.type"] == "ValueError"

    def test_unsampled_does_no_attribute_work(self, telemetry: CapturedTelemetry) -> None:
        """Not sampled: no span exported, metrics still recorded."""
        telemetry.sample(False)
        server = HttpServerTracer(*tracers())
        request = server.start_wsgi(environ())
        assert not request.recording
        request.set_status_code(200)
        request.end()
        assert telemetry.spans() == []
        assert telemetry.metrics()["http.server.request.duration"][0].count == 1

    def test_end_twice_is_harmless(self, telemetry: CapturedTelemetry) -> None:
        """end() is idempotent."""
        server = HttpServerTracer(*tracers())
        request = server.start_wsgi(environ())
        request.end()
        request.end()
        assert len(telemetry.spans()) == 1

    def test_excluded_urls(self) -> None:
        """Excluded URLs are recognised from an environ and a scope."""
        server = HttpServerTracer(*tracers(excluded_urls="/health"))
        scope = {"scheme": "http", "path": "/health", "headers": [(b"host", b"h")]}
        assert (
            server.excluded_environ(environ(PATH_INFO="/health")),
            server.excluded_scope(scope),
            server.excluded_environ(environ()),
        ) == (True, True, False)

    def test_asgi_scope(self, telemetry: CapturedTelemetry) -> None:
        """ASGI requests get the same span shape; attach makes it current."""
        server = HttpServerTracer(*tracers())
        scope = {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "path": "/o",
            "headers": [],
            "http_version": "1.1",
        }
        request = server.start_asgi(scope)
        request.attach()
        assert trace.get_current_span() is request.span
        request.detach()
        request.end()
        assert telemetry.spans()[0].name == "POST"

    def test_exemplar_links_to_the_ended_span(self, telemetry: CapturedTelemetry) -> None:
        """The duration's exemplar names the request span, though it was detached before end()."""
        server = HttpServerTracer(*tracers())
        request = server.start_wsgi(environ())
        request.attach()
        request.detach()
        request.end()
        span = telemetry.spans()[0]
        (point,) = telemetry.metrics()["http.server.request.duration"]
        assert [(span.context.trace_id, span.context.span_id)] == [
            (e.trace_id, e.span_id) for e in point.exemplars
        ]

    def test_late_attributes_and_rename(self, telemetry: CapturedTelemetry) -> None:
        """Route, status and error type land on the span once each; the route renames it."""
        server = HttpServerTracer(*tracers())
        request = server.start_wsgi(environ(), route="/a")
        request.set_route("/users/<id>")
        request.set_status_code(503)
        request.end()
        span = telemetry.spans()[0]
        assert span.attributes is not None
        assert ("GET /users/<id>", "/users/<id>", 503, "503") == (
            span.name,
            span.attributes["http.route"],
            span.attributes["http.response.status_code"],
            span.attributes["error.type"],
        )

    def test_known_methods_resolved_once(
        self, telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS is read when the tracer is made."""
        monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE")
        server = HttpServerTracer(*tracers())
        monkeypatch.delenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS")
        server.start_wsgi(environ(REQUEST_METHOD="PURGE")).end()
        server.start_wsgi(environ(REQUEST_METHOD="POST")).end()
        assert ["PURGE", "HTTP"] == [s.name for s in telemetry.spans()]

    def test_websocket_scheme_on_span_and_metric(self, telemetry: CapturedTelemetry) -> None:
        """A websocket scope without a scheme is ``ws`` on the span and on the metric alike."""
        server = HttpServerTracer(*tracers())
        server.start_asgi({"type": "websocket", "path": "/ws", "headers": []}).end()
        span = telemetry.spans()[0]
        (point,) = telemetry.metrics()["http.server.request.duration"]
        assert ("ws", "ws", "/ws") == (
            span.attributes["url.scheme"],  # type: ignore[index]
            point.attributes["url.scheme"],
            span.attributes["url.path"],  # type: ignore[index]
        )

    def test_wsgi_path_is_script_name_and_utf8(self, telemetry: CapturedTelemetry) -> None:
        """url.path joins SCRIPT_NAME and PATH_INFO and recovers UTF-8 from WSGI's latin-1."""
        server = HttpServerTracer(*tracers())
        raw = "/caf\u00e9".encode().decode("latin-1")
        server.start_wsgi(environ(SCRIPT_NAME="/app", PATH_INFO=raw)).end()
        assert "/app/caf\u00e9" == telemetry.spans()[0].attributes["url.path"]  # type: ignore[index]


class TestHttpClientTracer:
    def test_client_span(self, telemetry: CapturedTelemetry) -> None:
        """CLIENT span named by method, url.full redacted, 4xx is an error."""
        client = HttpClientTracer(*tracers())
        request = client.start("get", "https://u:p@api.local:8443/x?token=1")
        request.set_status_code(404)
        request.end()
        span = telemetry.span("GET")
        assert span.attributes is not None
        assert (
            span.kind,
            span.attributes["url.full"],
            span.attributes["server.address"],
            span.attributes["server.port"],
            span.status.status_code,
        ) == (
            SpanKind.CLIENT,
            "https://REDACTED:REDACTED@api.local:8443/x?token=REDACTED",
            "api.local",
            8443,
            StatusCode.ERROR,
        )
        assert len(telemetry.metrics()["http.client.request.duration"]) == 1

    def test_status_and_error_type_at_end(self, telemetry: CapturedTelemetry) -> None:
        """Status code and error.type land on the span and the metric; the exemplar names it."""
        client = HttpClientTracer(*tracers())
        request = client.start("GET", "http://h/x")
        request.set_status_code(503)
        request.end()
        span = telemetry.spans()[0]
        assert span.attributes is not None
        (point,) = telemetry.metrics()["http.client.request.duration"]
        assert (503, "503", 503, "503", [span.context.span_id]) == (
            span.attributes["http.response.status_code"],
            span.attributes["error.type"],
            point.attributes["http.response.status_code"],
            point.attributes["error.type"],
            [e.span_id for e in point.exemplars],
        )

    def test_query_keys_resolved_once(
        self, telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """SPANWISE_URL_REDACT_QUERY_KEYS is read when the tracer is made."""
        monkeypatch.setenv("SPANWISE_URL_REDACT_QUERY_KEYS", "session")
        client = HttpClientTracer(*tracers())
        monkeypatch.delenv("SPANWISE_URL_REDACT_QUERY_KEYS")
        client.start("GET", "http://h/x?session=s&a=1").end()
        assert "http://h/x?session=REDACTED&a=1" == telemetry.spans()[0].attributes["url.full"]  # type: ignore[index]


class TestDbClientTracer:
    def test_sql_span(self, telemetry: CapturedTelemetry) -> None:
        """Span named by summary with scrubbed text, and the duration metric."""
        db = DbClientTracer(*tracers(), system="sqlite")
        op = db.start_sql("SELECT * FROM users WHERE name = 'bob'", namespace="main")
        op.end()
        span = telemetry.span("SELECT users")
        assert dict(span.attributes or {}) == {
            "db.system.name": "sqlite",
            "db.operation.name": "SELECT",
            "db.collection.name": "users",
            "db.namespace": "main",
            "db.query.summary": "SELECT users",
            "db.query.text": "SELECT * FROM users WHERE name = ?",
        }
        (point,) = telemetry.metrics()["db.client.operation.duration"]
        assert "db.query.text" not in point.attributes

    @pytest.mark.parametrize(("mode", "expected"), [("raw", "SELECT 'x'"), ("off", None)])
    def test_query_text_modes(
        self, telemetry: CapturedTelemetry, mode: str, expected: str | None
    ) -> None:
        """Raw text only on opt-in; off records none."""
        db = DbClientTracer(*tracers(db_query_text=mode), system="sqlite")
        db.start_sql("SELECT 'x'").end()
        assert expected == (telemetry.spans()[0].attributes or {}).get("db.query.text")

    def test_error_and_batch(self, telemetry: CapturedTelemetry) -> None:
        """Errors set error.type; batches of two or more record their size."""
        db = DbClientTracer(*tracers(), system="redis")
        op = db.start("MSET", query_text="MSET k ? k2 ?", batch_size=2)
        op.record_exception(ConnectionError("down"))
        op.end()
        span = telemetry.span("MSET")
        assert (
            span.attributes["error.type"],  # type: ignore[index]
            span.attributes["db.operation.batch.size"],  # type: ignore[index]
        ) == ("ConnectionError", 2)
