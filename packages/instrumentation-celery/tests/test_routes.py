"""The per-task caches of names and attributes: bounded, keyed by task and queue."""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics, trace

from spanwise.core import Guard, MessagingTracer, Options
from spanwise.instrumentation.celery._metrics import TaskMetrics
from spanwise.instrumentation.celery._publish import MAX_NAMES, Publisher
from spanwise.instrumentation.celery._worker import MAX_ROUTES, TaskTracer


def _messaging() -> MessagingTracer:
    return MessagingTracer(
        trace.get_tracer("t"), metrics.get_meter("t"), Options("m"), Guard("m"), "celery"
    )


class TestTaskRoutes:
    def test_worker_routes_bounded_and_keyed(self) -> None:
        """One route per (task, queue), at most MAX_ROUTES kept; each still right beyond."""
        tracer = TaskTracer(
            _messaging(), TaskMetrics(metrics.get_meter("t")), Guard("m"), link=False
        )
        for i in range(MAX_ROUTES + 10):
            tracer._route(f"t{i}", "q")
        assert MAX_ROUTES == len(tracer._routes)
        beyond = tracer._route("t300", "q")
        assert "process t300" == beyond.name
        assert {"celery.task.name": "t300", "messaging.destination.name": "q"} == beyond.attrs
        assert {"celery.task.name": "t300", "celery.task.retries": 0} == beyond.span_attrs
        assert tracer._route("t0", "q") is tracer._route("t0", "q")
        assert "other" == tracer._route("t0", "other").attrs["messaging.destination.name"]

    def test_outcome_attributes(self) -> None:
        """Outcome attributes are the route's plus the outcome, one dict per outcome."""
        tracer = TaskTracer(
            _messaging(), TaskMetrics(metrics.get_meter("t")), Guard("m"), link=False
        )
        route = tracer._route("tests.add", None)
        ok: Any = route.outcome_attrs("success")
        assert {"celery.task.name": "tests.add", "celery.task.outcome": "success"} == ok
        assert ok is route.outcome_attrs("success")
        assert "failure" == route.outcome_attrs("failure")["celery.task.outcome"]
        assert {"celery.task.name": "tests.add"} == route.attrs  # not mutated

    def test_publisher_names_bounded(self) -> None:
        """Span name and attributes per task name, at most MAX_NAMES kept."""
        publisher = Publisher(_messaging(), Guard("m"))
        for i in range(MAX_NAMES + 10):
            publisher._task(f"t{i}")
        assert MAX_NAMES == len(publisher._names)
        assert ("send t300", {"celery.task.name": "t300"}) == publisher._task("t300")
