"""Tests for spanwise.instrumentation.django.apps."""

from __future__ import annotations

from django.apps import AppConfig
from django.test import Client

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.django import DjangoInstrumentor
from spanwise.instrumentation.django.apps import SpanwiseDjangoConfig


class TestSpanwiseDjangoConfig:
    def test_found_from_installed_apps_entry(self) -> None:
        """The INSTALLED_APPS entry "spanwise.instrumentation.django" finds our AppConfig."""
        config = AppConfig.create("spanwise.instrumentation.django")
        assert (SpanwiseDjangoConfig, "spanwise_django") == (type(config), config.label)

    def test_ready_instruments(self, telemetry: CapturedTelemetry) -> None:
        """When the app registry is ready, Django is instrumented."""
        instrumentor = DjangoInstrumentor()
        instrumentor.uninstrument()
        try:
            AppConfig.create("spanwise.instrumentation.django").ready()
            Client().get("/users/1/")
            assert (True, ["GET /users/<int:uid>/"]) == (
                instrumentor.is_instrumented,
                [s.name for s in telemetry.spans()],
            )
        finally:
            instrumentor.uninstrument()
