"""Task metrics: outcomes and queue wait, beside the shared messaging metrics."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

TIMEOUT = 20


def _collect(telemetry: Any, until: Any, timeout: float = 15.0) -> dict[str, list[Any]]:
    """Accumulate delta data points until *until(points)* holds (metrics land just after the
    worker's span ends)."""
    points: dict[str, list[Any]] = {}
    deadline = time.monotonic() + timeout
    while True:
        for name, found in telemetry.metrics().items():
            points.setdefault(name, []).extend(found)
        if until(points) or time.monotonic() > deadline:
            return points
        time.sleep(0.05)


def _counts(points: list[Any], key: str) -> Counter[Any]:
    counts: Counter[Any] = Counter()
    for point in points:
        counts[point.attributes.get(key)] += point.value
    return counts


class TestTaskMetrics:
    """What a worker records per execution, and a producer per publish."""

    @pytest.fixture
    def points(self, celery_app, celery_worker, instrumented, telemetry):
        """Metrics for one success, one failure and one task retried once."""
        celery_app.tasks["tests.add"].delay(1, 2).get(timeout=TIMEOUT)
        with pytest.raises(ValueError, match="boom"):
            celery_app.tasks["tests.boom"].delay().get(timeout=TIMEOUT)
        celery_app.tasks["tests.flaky"].delay(1).get(timeout=TIMEOUT)

        def done(points: dict[str, list[Any]]) -> bool:
            return sum(p.value for p in points.get("celery.task.executions", [])) >= 4

        return _collect(telemetry, done)

    def test_outcomes_are_counted(self, points):
        """``celery.task.executions`` counts each execution by ``celery.task.outcome``."""
        counts = _counts(points["celery.task.executions"], "celery.task.outcome")
        assert {"success": 2, "failure": 1, "retry": 1} == dict(counts)

    def test_outcome_attributes(self, points, celery_app):
        """Outcome points carry the queue and the task name."""
        point = next(
            p
            for p in points["celery.task.executions"]
            if p.attributes["celery.task.outcome"] == "failure"
        )
        expected = {
            "messaging.destination.name": celery_app.conf.task_default_queue,
            "celery.task.name": "tests.boom",
            "celery.task.outcome": "failure",
        }
        assert expected == dict(point.attributes)

    def test_process_duration_has_error_type_for_failures(self, points):
        """``messaging.process.duration``: one per execution, ``error.type`` on the failure."""
        durations = points["messaging.process.duration"]
        assert 4 == sum(p.count for p in durations)
        by_error = Counter()
        for point in durations:
            by_error[point.attributes.get("error.type")] += point.count
        assert {None: 3, "ValueError": 1} == dict(by_error)

    def test_queue_wait_is_recorded_per_execution(self, points):
        """``celery.task.wait.duration``: publish-to-start, once per execution, never negative."""
        waits = points["celery.task.wait.duration"]
        assert 4 == sum(p.count for p in waits)
        assert min(p.min for p in waits) >= 0.0

    def test_sent_messages_and_publish_duration(self, points):
        """Four messages sent (the retry included), each with its publish duration."""
        sent = sum(p.value for p in points["messaging.client.sent.messages"])
        published = sum(p.count for p in points["messaging.client.operation.duration"])
        assert (4, 4) == (sent, published)

    def test_no_consumed_messages_counter(self, points):
        """Celery has no receive call: executions are counted by ``celery.task.executions``."""
        assert "messaging.client.consumed.messages" not in points
