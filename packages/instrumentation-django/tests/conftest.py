"""Django set up once for the in-process tests, with the test project importable."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django
import pytest

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.django import DjangoInstrumentor

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spanwise_django_testapp.settings")
django.setup()


@pytest.fixture
def instrument(telemetry: CapturedTelemetry) -> Iterator[Callable[..., DjangoInstrumentor]]:
    """Instrument Django with the given options for one test; uninstrument afterwards."""
    instrumentor = DjangoInstrumentor()
    instrumentor.uninstrument()

    def activate(**options: Any) -> DjangoInstrumentor:
        instrumentor.instrument(**options)
        assert instrumentor.is_instrumented
        return instrumentor

    yield activate
    instrumentor.uninstrument()
