"""Fixtures for the Flask tests: a fresh app per test and the instrumentor, undone after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spanwise.instrumentation.flask import FlaskInstrumentor

from .apps.views import make_app


@pytest.fixture
def instrumentor(telemetry: Any) -> Iterator[FlaskInstrumentor]:
    """The instrumentor, with everything it did undone after the test."""
    inst = FlaskInstrumentor()
    yield inst
    inst.uninstrument()
    for app in list(inst._apps):
        inst.uninstrument_app(app)
    inst._skipped.clear()


@pytest.fixture
def app() -> Any:
    """A fresh app with the test views (see tests/apps/views.py)."""
    return make_app()
