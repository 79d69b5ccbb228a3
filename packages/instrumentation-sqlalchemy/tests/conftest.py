"""Fixtures: the instrumentor, always uninstrumented after the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.sqlalchemy import SQLAlchemyInstrumentor


@pytest.fixture
def instrumentor(telemetry: CapturedTelemetry) -> Iterator[SQLAlchemyInstrumentor]:
    """The instrumentor, not yet instrumented; everything it did is undone afterwards."""
    inst = SQLAlchemyInstrumentor()
    inst.uninstrument()
    yield inst
    inst.uninstrument()


@pytest.fixture
def instrumented(instrumentor: SQLAlchemyInstrumentor) -> SQLAlchemyInstrumentor:
    """The instrumentor with ``instrument()`` in effect (default options)."""
    instrumentor.instrument()
    assert instrumentor.is_instrumented
    return instrumentor
