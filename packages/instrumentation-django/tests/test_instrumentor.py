"""Tests for spanwise.instrumentation.django._instrumentor."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.signals import got_request_exception
from django.test import Client, override_settings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.django import DjangoInstrumentor

Instrument = Callable[..., DjangoInstrumentor]
MANUAL = ["spanwise.instrumentation.django.TracingMiddleware", *settings.MIDDLEWARE]
SIGNAL_UID = "spanwise.instrumentation.django.request_exception"


def _signal_connected() -> bool:
    return any(entry[0][0] == SIGNAL_UID for entry in got_request_exception.receivers)


class TestDjangoInstrumentor:
    def test_uninstrument_restores_the_original(self, instrument: Instrument) -> None:
        """uninstrument() puts back the exact original load_middleware and the signal."""
        original = BaseHandler.__dict__["load_middleware"]
        instrumentor = instrument()
        assert (False, True) == (
            BaseHandler.__dict__["load_middleware"] is original,
            _signal_connected(),
        )
        instrumentor.uninstrument()
        assert (True, False) == (
            BaseHandler.__dict__["load_middleware"] is original,
            _signal_connected(),
        )

    def test_uninstrumented_handlers_are_not_traced(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Handlers built after uninstrument() serve requests without spans."""
        instrument().uninstrument()
        assert 200 == Client().get("/users/1/").status_code
        assert [] == telemetry.spans()

    def test_instrument_twice_is_one_activation(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """A second instrument() changes nothing: one patch, one span per request."""
        instrumentor = instrument()
        instrumentor.instrument(excluded_urls="users")
        assert 1 == instrumentor.patcher.applied
        Client().get("/users/1/")
        assert ["GET /users/<int:uid>/"] == [s.name for s in telemetry.spans()]

    def test_disabled_by_environment(
        self, telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=django leaves Django untouched."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "flask,django")
        instrumentor = DjangoInstrumentor()
        instrumentor.uninstrument()
        instrumentor.instrument()
        Client().get("/users/1/")
        assert (False, []) == (instrumentor.is_instrumented, telemetry.spans())

    def test_explicit_tracer_provider(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """Spans go to the tracer_provider passed to instrument(), not the global one."""
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        instrument(tracer_provider=provider)
        Client().get("/users/1/")
        assert ([], ["GET /users/<int:uid>/"]) == (
            telemetry.spans(),
            [s.name for s in exporter.get_finished_spans()],
        )

    def test_manual_middleware_instruments_a_fresh_process(
        self, instrument: Instrument, telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """TracingMiddleware in MIDDLEWARE with no instrument() call instruments on its own."""
        instrumentor = DjangoInstrumentor()
        instrumentor.uninstrument()
        monkeypatch.setattr(instrumentor, "ever_instrumented", False)
        with override_settings(MIDDLEWARE=MANUAL):
            Client().get("/users/1/")
        assert (True, ["GET /users/<int:uid>/"]) == (
            instrumentor.is_instrumented,
            [s.name for s in telemetry.spans()],
        )

    def test_manual_middleware_respects_uninstrument(
        self, instrument: Instrument, telemetry: CapturedTelemetry
    ) -> None:
        """After an explicit uninstrument() a listed TracingMiddleware stays off."""
        instrumentor = instrument()
        instrumentor.uninstrument()
        with override_settings(MIDDLEWARE=MANUAL):
            assert 200 == Client().get("/users/1/").status_code
        assert (False, []) == (instrumentor.is_instrumented, telemetry.spans())

    def test_instrument_before_django_is_imported(self, tmp_path: Path) -> None:
        """instrument() before Django is imported or configured patches it on import."""
        script = textwrap.dedent(
            """
            import sys
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
            from spanwise.instrumentation.django import DjangoInstrumentor

            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            DjangoInstrumentor().instrument()
            assert "django.core.handlers.base" not in sys.modules

            import django
            from django.conf import settings
            settings.configure(
                ROOT_URLCONF="spanwise_django_testapp.urls",
                ALLOWED_HOSTS=["testserver"],
                SECRET_KEY="x",
                INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
            )
            django.setup()
            from django.test import Client
            Client().get("/users/9/")
            print([s.name for s in exporter.get_finished_spans()])
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=str(Path(__file__).parent),
            env={"PYTHONPATH": str(Path(__file__).parent), "PATH": "/usr/bin:/bin"},
        )
        assert (0, "['GET /users/<int:uid>/']") == (out.returncode, out.stdout.strip()), out.stderr
