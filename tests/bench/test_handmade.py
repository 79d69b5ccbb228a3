"""The bench's ``handmade`` variants record the same telemetry as Spanwise.

A handmade variant is the yardstick for what the OpenTelemetry SDK itself costs for one
operation's telemetry (bench/_handmade.py). It is only that if it records what Spanwise
records: the same spans (name, kind, attribute keys, parent) and the same metric points
(name, unit, attribute keys, bucket boundaries). Each scenario runs in its own processes,
through ``bench/telemetry.py``, once per variant: instrumentation is process-wide.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCENARIOS = sorted(
    path.stem
    for path in (BENCH / "scenarios").glob("*.py")
    if any(line.replace(" ", "") == "HANDMADE=True" for line in path.read_text().splitlines())
)


def shape(scenario: str, variant: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(BENCH / "telemetry.py"), scenario, variant],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_every_issue_scenario_has_a_handmade_variant() -> None:
    """The scenarios the issues set goals for all carry the yardstick."""
    assert set(SCENARIOS) >= {
        "celery_task",
        "django_get",
        "fastapi_get",
        "flask_get",
        "kafka_produce",
        "redis_get",
        "requests_get",
        "sqlalchemy_select",
    }


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_handmade_records_what_spanwise_records(scenario: str) -> None:
    if scenario == "redis_get" and shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    spanwise = shape(scenario, "spanwise")
    assert spanwise["spans"], "the Spanwise variant recorded no span"
    assert spanwise["metrics"], "the Spanwise variant recorded no metric"
    assert shape(scenario, "handmade") == spanwise
