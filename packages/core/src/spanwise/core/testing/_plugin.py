"""The pytest plugin shipped with spanwise-core (entry point ``pytest11``: ``spanwise``).

Fixtures:

``telemetry`` (alias ``spanwise_telemetry``)
    A :class:`~spanwise.core.testing.CapturedTelemetry` reset for the test: the global tracer,
    meter and logger providers capture into memory; ``telemetry.spans()``,
    ``telemetry.metrics()``, ``telemetry.logs()``, ``telemetry.tree()``,
    ``telemetry.assert_tree(...)``, ``telemetry.sample(False)``.
``span_file``
    A path for :class:`~spanwise.core.testing.JsonLinesSpanExporter` output from servers in
    other processes; read it back with :func:`~spanwise.core.testing.read_spans`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._capture import CapturedTelemetry, captured_telemetry


@pytest.fixture
def telemetry() -> Iterator[CapturedTelemetry]:
    """Fresh in-memory capture of spans, metrics and logs for one test."""
    captured = captured_telemetry()
    captured.reset()
    yield captured
    captured.reset()


@pytest.fixture
def spanwise_telemetry(telemetry: CapturedTelemetry) -> CapturedTelemetry:
    """The same as ``telemetry``, under a name that will not clash with a project's own."""
    return telemetry


@pytest.fixture
def span_file(tmp_path: Path) -> Path:
    """Where a server in another process writes its spans (JSON lines)."""
    return tmp_path / "spans.jsonl"
