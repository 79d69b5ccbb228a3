"""Fixtures for the distro's end-to-end tests: an OTLP receiver and a clean child environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from spanwise.core.testing import OtlpReceiver

VENV_BIN = str(Path(sys.executable).parent)


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    """A running OTLP receiver (HTTP and gRPC) on loopback."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture
def child_env() -> dict[str, str]:
    """The environment for a child process: no inherited OTEL_*/SPANWISE_* settings, our
    virtualenv's bin first on PATH, quick batch export."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPANWISE_"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    env["OTEL_METRIC_EXPORT_INTERVAL"] = "200"
    env["PYTHONUNBUFFERED"] = "1"
    return env
