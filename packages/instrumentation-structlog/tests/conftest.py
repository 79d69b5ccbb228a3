"""Fixtures for the structlog plugin: a clean structlog configuration and instrumentor."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from spanwise.instrumentation.structlog import StructlogInstrumentor


@pytest.fixture(autouse=True)
def clean_structlog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from structlog's defaults, not instrumented, and ends that way."""
    monkeypatch.delenv("SPANWISE_LOGS_EXPORT", raising=False)
    StructlogInstrumentor().uninstrument()
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    yield
    StructlogInstrumentor().uninstrument()
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def instrumentor() -> StructlogInstrumentor:
    """The instrumentor (uninstrumented again after the test by ``clean_structlog``)."""
    return StructlogInstrumentor()


class Sink(io.StringIO):
    """Rendered lines written by a ``PrintLogger``."""

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@pytest.fixture
def sink() -> Sink:
    """Where the configured ``PrintLogger`` writes."""
    return Sink()


@pytest.fixture
def json_config(sink: Sink) -> list[Any]:
    """structlog configured with a JSON renderer writing to ``sink``; returns the chain."""
    chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.JSONRenderer(sort_keys=True),
    ]
    structlog.configure(
        processors=chain,
        logger_factory=structlog.PrintLoggerFactory(sink),
        cache_logger_on_first_use=True,
    )
    return chain
