"""Django set up once for the in-process tests, with the test project importable."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import django
import pytest
from django.conf import settings

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.django import DjangoInstrumentor

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
# Configure from the test project's settings module without setting DJANGO_SETTINGS_MODULE:
# the variable would leak into every later test of the session and their subprocesses (Celery's
# Django fix-up, for one, imports whatever module it names).
if not settings.configured:
    _project = importlib.import_module("spanwise_django_testapp.settings")
    settings.configure(
        **{name: getattr(_project, name) for name in dir(_project) if name.isupper()}
    )
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
