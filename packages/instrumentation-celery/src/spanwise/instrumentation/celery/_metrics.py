"""The Celery metrics that the shared messaging ones do not cover: outcomes and queue wait."""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics

from spanwise.core.metrics import FastInstrument
from spanwise.core.semconv import DURATION_BUCKETS_HTTP, MESSAGING_DESTINATION_NAME

from ._attributes import CELERY_TASK_NAME, CELERY_TASK_OUTCOME

__all__ = ["TASK_EXECUTIONS", "TASK_WAIT_DURATION", "TaskMetrics"]

#: Counter of finished task executions, by ``celery.task.outcome``.
TASK_EXECUTIONS = "celery.task.executions"
#: Histogram (s) of the time between publishing a task and the start of its execution.
TASK_WAIT_DURATION = "celery.task.wait.duration"

#: Waits are longer than request durations: the messaging buckets, extended to ten minutes.
_WAIT_BUCKETS = [*DURATION_BUCKETS_HTTP, 30.0, 60.0, 120.0, 300.0, 600.0]


class TaskMetrics:
    """Records task outcomes and queue waits (``messaging.process.duration`` is core's).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_executions", "_wait")

    def __init__(self, meter: metrics.Meter) -> None:
        self._executions = FastInstrument(
            meter.create_counter(
                TASK_EXECUTIONS,
                unit="{execution}",
                description="Number of task executions that finished, by outcome.",
            )
        )
        self._wait = FastInstrument(
            meter.create_histogram(
                TASK_WAIT_DURATION,
                unit="s",
                description="Time between publishing a task and the start of its execution.",
                explicit_bucket_boundaries_advisory=_WAIT_BUCKETS,
            )
        )

    @staticmethod
    def attributes(task_name: str, destination: str | None) -> dict[str, Any]:
        """The attributes both metrics carry (no ``messaging.system``: the metric names say
        ``celery``, and every attribute costs on each record)."""
        attrs: dict[str, Any] = {CELERY_TASK_NAME: task_name}
        if destination:
            attrs[MESSAGING_DESTINATION_NAME] = destination
        return attrs

    def executed(self, attrs: dict[str, Any], outcome: str) -> None:
        """One execution finished with *outcome*."""
        self._executions.add(1, {**attrs, CELERY_TASK_OUTCOME: outcome})

    def executed_with(self, attrs: dict[str, Any]) -> None:
        """One execution finished: *attrs* are :meth:`attributes` plus
        ``celery.task.outcome`` (built once by the caller)."""
        self._executions.add(1, attrs)

    def waited(self, attrs: dict[str, Any], seconds: float) -> None:
        """A task started *seconds* after it was published."""
        self._wait.record(seconds, attrs)
