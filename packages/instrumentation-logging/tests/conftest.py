"""Fixtures for the logging plugin: a clean instrumentor and a logger writing to a buffer."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from spanwise.instrumentation.logging import LoggingInstrumentor


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts and ends not instrumented, without the plugin's variables."""
    for name in (
        "SPANWISE_LOGS_EXPORT",
        "OTEL_PYTHON_LOG_CORRELATION",
        "OTEL_PYTHON_LOG_FORMAT",
        "OTEL_PYTHON_LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    LoggingInstrumentor().uninstrument()
    yield
    LoggingInstrumentor().uninstrument()


@pytest.fixture
def instrumentor() -> LoggingInstrumentor:
    """The instrumentor (uninstrumented again after the test)."""
    return LoggingInstrumentor()


FORMAT = "%(message)s|%(otelTraceID)s|%(otelSpanID)s|%(otelTraceSampled)s|%(otelServiceName)s"


@pytest.fixture
def stream(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """A buffer that the logger ``app.<test name>`` writes FORMAT lines to (no propagation)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger(f"app.{request.node.name}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield buffer
    logger.removeHandler(handler)


@pytest.fixture
def app_logger(request: pytest.FixtureRequest, stream: io.StringIO) -> logging.Logger:
    """The logger writing to ``stream``."""
    return logging.getLogger(f"app.{request.node.name}")
