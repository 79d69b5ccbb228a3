"""spanwise.instrumentation.flask._instrumentor."""

from __future__ import annotations

import inspect
from types import FunctionType
from typing import Any

import flask
import pytest
import wrapt
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from spanwise.instrumentation.flask import FlaskInstrumentor

from .apps.views import make_app

PATCHED = ("__call__", "wsgi_app", "handle_exception")


def servers(telemetry: Any) -> list[str]:
    """Names of the SERVER spans finished so far."""
    return [s.name for s in telemetry.spans() if s.kind is SpanKind.SERVER]


def hit(app: Any, path: str = "/users/1") -> int:
    with app.test_client().get(path) as response:
        return int(response.status_code)


class TestInstrument:
    def test_patches_flask_methods_in_place(self, instrumentor: FlaskInstrumentor) -> None:
        """__call__, wsgi_app and handle_exception are wrapped; the class stays the same."""
        originals = [flask.Flask.__dict__[name] for name in PATCHED]
        cls = flask.Flask
        instrumentor.instrument()
        now = [flask.Flask.__dict__[name] for name in PATCHED]
        assert (cls, [False] * 3) == (
            flask.Flask,
            [a is b for a, b in zip(originals, now, strict=True)],
        )

    def test_uninstrument_restores_the_originals(self, instrumentor: FlaskInstrumentor) -> None:
        """uninstrument() puts back the exact original functions."""
        originals = [flask.Flask.__dict__[name] for name in PATCHED]
        instrumentor.instrument()
        instrumentor.uninstrument()
        assert [True] * 3 == [
            a is flask.Flask.__dict__[name] for a, name in zip(originals, PATCHED, strict=True)
        ]

    def test_nothing_traced_after_uninstrument(
        self, instrumentor: FlaskInstrumentor, app: Any, telemetry: Any
    ) -> None:
        """Requests after uninstrument() make no SERVER span."""
        instrumentor.instrument()
        instrumentor.uninstrument()
        hit(app)
        assert [] == servers(telemetry)

    def test_instrument_twice_traces_once(
        self, instrumentor: FlaskInstrumentor, app: Any, telemetry: Any
    ) -> None:
        """A second instrument() changes nothing: still one span per request."""
        instrumentor.instrument()
        instrumentor.instrument()
        hit(app)
        assert ["GET /users/<int:uid>"] == servers(telemetry)

    def test_disabled_by_environment(
        self, instrumentor: FlaskInstrumentor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=flask leaves Flask untouched."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "django,flask")
        original = flask.Flask.__dict__["wsgi_app"]
        instrumentor.instrument()
        assert (False, True) == (
            instrumentor.is_instrumented,
            original is flask.Flask.__dict__["wsgi_app"],
        )

    def test_entry_points_are_plain_functions(self, instrumentor: FlaskInstrumentor) -> None:
        """Flask.__call__ and Flask.wsgi_app become plain functions with the originals'
        names and signatures: a served request binds no wrapper object."""
        names = ("__call__", "wsgi_app")
        before = [inspect.signature(getattr(flask.Flask, name)) for name in names]
        instrumentor.instrument()
        placed = [flask.Flask.__dict__[name] for name in names]
        assert ([True, True], before, list(names)) == (
            [type(f) is FunctionType for f in placed],
            [inspect.signature(f) for f in placed],
            [f.__name__ for f in placed],
        )

    def test_someone_elses_wrapper_on_wsgi_app(
        self, instrumentor: FlaskInstrumentor, telemetry: Any
    ) -> None:
        """A wrapt wrapper already on Flask.wsgi_app is wrapped, not replaced: one span per
        request, and uninstrument() puts their wrapper back."""
        original = flask.Flask.__dict__["wsgi_app"]
        seen: list[str] = []

        def theirs(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            seen.append("theirs")
            return wrapped(*args, **kwargs)

        wrapt.wrap_function_wrapper(flask.Flask, "wsgi_app", theirs)
        wrapped_by_them = flask.Flask.__dict__["wsgi_app"]
        try:
            instrumentor.instrument()
            hit(make_app())
            instrumentor.uninstrument()
            assert (["GET /users/<int:uid>"], ["theirs"], True) == (
                servers(telemetry),
                seen,
                flask.Flask.__dict__["wsgi_app"] is wrapped_by_them,
            )
        finally:
            flask.Flask.wsgi_app = original  # type: ignore[method-assign]

    def test_isinstance_and_signatures_unchanged(self, instrumentor: FlaskInstrumentor) -> None:
        """Apps are still Flask instances and the patched methods keep their names."""
        instrumentor.instrument()
        app = make_app()
        assert (True, "wsgi_app", "handle_exception") == (
            isinstance(app, flask.Flask),
            app.wsgi_app.__name__,
            app.handle_exception.__name__,
        )


class TestInstrumentApp:
    def test_traces_that_app_only(self, instrumentor: FlaskInstrumentor, telemetry: Any) -> None:
        """instrument_app(app) traces app, not other apps."""
        traced, other = make_app(), make_app()
        instrumentor.instrument_app(traced)
        hit(traced)
        hit(other, "/teapot")
        assert ["GET /users/<int:uid>"] == servers(telemetry)

    def test_own_options_win_over_instrument(
        self, instrumentor: FlaskInstrumentor, telemetry: Any
    ) -> None:
        """instrument() then instrument_app(app, excluded_urls=...): the app's own options."""
        app = make_app()
        instrumentor.instrument()
        instrumentor.instrument_app(app, excluded_urls="users")
        hit(app)
        hit(app, "/teapot")
        assert ["GET /teapot"] == servers(telemetry)

    def test_records_exceptions(self, instrumentor: FlaskInstrumentor, telemetry: Any) -> None:
        """An app instrumented alone still records unhandled exceptions."""
        app = make_app()
        instrumentor.instrument_app(app)
        hit(app, "/boom")
        span = telemetry.span("GET /boom")
        assert ["exception"] == [e.name for e in span.events]

    def test_uninstrument_app_restores_the_instance(
        self, instrumentor: FlaskInstrumentor, telemetry: Any
    ) -> None:
        """uninstrument_app(app) removes the instance wrappers; no more spans."""
        app = make_app()
        instrumentor.instrument_app(app)
        instrumentor.uninstrument_app(app)
        hit(app)
        assert ([], False, False) == (
            servers(telemetry),
            "wsgi_app" in vars(app),
            "handle_exception" in vars(app),
        )

    def test_uninstrument_app_opts_out_of_instrument(
        self, instrumentor: FlaskInstrumentor, telemetry: Any
    ) -> None:
        """After uninstrument_app(app), instrument() leaves that app alone; others traced."""
        quiet, loud = make_app(), make_app()
        instrumentor.instrument()
        instrumentor.uninstrument_app(quiet)
        hit(quiet)
        hit(loud, "/teapot")
        assert ["GET /teapot"] == servers(telemetry)

    def test_instrument_app_again_after_opting_out(
        self, instrumentor: FlaskInstrumentor, telemetry: Any
    ) -> None:
        """instrument_app() brings an opted-out app back."""
        app = make_app()
        instrumentor.instrument()
        instrumentor.uninstrument_app(app)
        instrumentor.instrument_app(app)
        hit(app)
        assert ["GET /users/<int:uid>"] == servers(telemetry)

    def test_with_instrument_one_span_per_request(
        self, instrumentor: FlaskInstrumentor, telemetry: Any
    ) -> None:
        """instrument() and instrument_app() together still give one SERVER span."""
        app = make_app()
        instrumentor.instrument()
        instrumentor.instrument_app(app)
        hit(app)
        assert ["GET /users/<int:uid>"] == servers(telemetry)

    def test_own_tracer_provider(self, instrumentor: FlaskInstrumentor, telemetry: Any) -> None:
        """tracer_provider= sends that app's spans to the given provider."""
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        app = make_app()
        instrumentor.instrument_app(app, tracer_provider=provider)
        hit(app)
        assert (["GET /users/<int:uid>"], []) == (
            [s.name for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER],
            servers(telemetry),
        )
