"""Worker side: one CONSUMER span per task execution, current while the task runs.

Driven by Celery's ``task_prerun``/``task_postrun``/``task_failure``/``task_retry`` signals,
which Celery sends from the thread (or greenlet) that runs the task, in that order, with
``task_postrun`` always sent (it sits in a ``finally``). The execution in progress is kept in
a context variable, so concurrent executions in a thread pool and nested eager calls each
find their own, and nothing is left behind once ``task_postrun`` has run.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from typing import Any

from spanwise.core import Guard, MessagingOperation, MessagingTracer

from ._attributes import (
    CELERY_TASK_NAME,
    CELERY_TASK_OUTCOME,
    CELERY_TASK_RETRIES,
    TASK_LINK_ATTRIBUTE,
)
from ._headers import MAX_WAIT_SECONDS, read_retry_of, read_sent_at, request_getter
from ._metrics import TaskMetrics

__all__ = ["OUTCOMES", "TaskRun", "TaskTracer", "current_run"]

#: ``task_postrun`` state → ``celery.task.outcome`` (anything else is ``error``: bounded).
OUTCOMES = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "RETRY": "retry",
    "IGNORED": "ignored",
    "REJECTED": "rejected",
}


#: Distinct (task name, queue) pairs whose names and attributes are kept; beyond, built per
#: execution.
MAX_ROUTES = 256


class TaskRoute:
    """What every execution of one task from one queue shares (dicts never mutated)."""

    __slots__ = ("attrs", "name", "outcomes", "span_attrs")

    def __init__(self, task_name: str, destination: str | None) -> None:
        self.name = f"process {task_name}"
        #: The span attributes of a first attempt (``celery.task.retries`` 0).
        self.span_attrs: dict[str, Any] = {CELERY_TASK_NAME: task_name, CELERY_TASK_RETRIES: 0}
        #: The attributes of both task metrics.
        self.attrs = TaskMetrics.attributes(task_name, destination)
        #: ``attrs`` plus ``celery.task.outcome``, per outcome (at most six).
        self.outcomes: dict[str, dict[str, Any]] = {}

    def outcome_attrs(self, outcome: str) -> dict[str, Any]:
        attrs = self.outcomes.get(outcome)
        if attrs is None:
            attrs = self.outcomes[outcome] = {**self.attrs, CELERY_TASK_OUTCOME: outcome}
        return attrs


class TaskRun:
    """One task execution in progress."""

    __slots__ = ("attrs", "op", "otel_token", "route", "task_id", "var_token")

    def __init__(self, op: MessagingOperation, task_id: str, route: TaskRoute) -> None:
        self.op = op
        self.task_id = task_id
        self.route = route
        self.attrs = route.attrs
        self.otel_token: object = None
        self.var_token: Token[TaskRun | None] | None = None


#: The execution running in this thread/greenlet, if any (also read when a task retries).
current_run: ContextVar[TaskRun | None] = ContextVar("spanwise_celery_run", default=None)


class TaskTracer:
    """The signal receivers of the worker side.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_routes", "guard", "link", "messaging", "metrics")

    def __init__(
        self, messaging: MessagingTracer, metrics: TaskMetrics, guard: Guard, *, link: bool
    ) -> None:
        self.messaging = messaging
        self.metrics = metrics
        self.guard = guard
        self.link = link
        self._routes: dict[tuple[str, str | None], TaskRoute] = {}

    # -- receivers (Celery calls them with keyword arguments; they never raise) -------------

    def on_prerun(
        self, sender: Any = None, task_id: Any = None, task: Any = None, **_: Any
    ) -> None:
        """``task_prerun``: start the CONSUMER span and make it current."""
        try:
            if task is not None and isinstance(task_id, str):
                self._prerun(task_id, task)
        except Exception as exc:  # noqa: BLE001
            self.guard.report("celery.task_prerun", exc)

    def on_postrun(
        self, sender: Any = None, task_id: Any = None, state: Any = None, **_: Any
    ) -> None:
        """``task_postrun``: end the span, record the outcome."""
        try:
            self._postrun(task_id, state)
        except Exception as exc:  # noqa: BLE001
            self.guard.report("celery.task_postrun", exc)

    def on_failure(
        self, sender: Any = None, task_id: Any = None, exception: Any = None, **_: Any
    ) -> None:
        """``task_failure``: the exception on the span, ERROR status, ``error.type``."""
        try:
            run = current_run.get()
            if run is not None and run.task_id == task_id and isinstance(exception, BaseException):
                run.op.record_exception(exception)
        except Exception as exc:  # noqa: BLE001
            self.guard.report("celery.task_failure", exc)

    def on_retry(
        self, sender: Any = None, request: Any = None, reason: Any = None, **_: Any
    ) -> None:
        """``task_retry``: the reason on the span (the retry itself gets a new, linked span)."""
        try:
            run = current_run.get()
            if run is None or run.task_id != getattr(request, "id", None):
                return
            if run.op.recording and isinstance(reason, BaseException):
                run.op.span.record_exception(reason)
        except Exception as exc:  # noqa: BLE001
            self.guard.report("celery.task_retry", exc)

    # -- internals --------------------------------------------------------------------------

    def _route(self, task_name: str, destination: str | None) -> TaskRoute:
        routes = self._routes
        route = routes.get((task_name, destination))
        if route is None:
            route = TaskRoute(task_name, destination)
            if len(routes) < MAX_ROUTES:
                routes[(task_name, destination)] = route
        return route

    def _prerun(self, task_id: str, task: Any) -> None:
        request = task.request
        # Celery copies every message header onto the request, ours included.
        carrier = vars(request)
        info = request.delivery_info
        destination = info.get("routing_key") if isinstance(info, dict) else None
        if not isinstance(destination, str):
            destination = None
        name = task.name
        if not isinstance(name, str):
            name = str(name)
        route = self._route(name, destination)
        per_task = getattr(task, TASK_LINK_ATTRIBUTE, None)
        retries = request.retries
        if not isinstance(retries, int):
            retries = 0
        op = self.messaging.start_process(
            destination,
            carrier=carrier,
            getter=request_getter,
            link=self.link if per_task is None else bool(per_task),
            message_id=task_id,
            attributes=route.span_attrs
            if retries == 0 and retries.__class__ is int
            else {CELERY_TASK_NAME: name, CELERY_TASK_RETRIES: retries},
            name=route.name,
        )
        if op.recording:
            previous = read_retry_of(carrier)
            if previous is not None:
                op.span.add_link(previous)
        sent_at = read_sent_at(carrier)
        if sent_at is not None and request.eta is None:  # an ETA/countdown wait is by design
            wait = time.time() - sent_at
            if 0.0 <= wait <= MAX_WAIT_SECONDS:
                self.metrics.waited(route.attrs, wait)
        run = TaskRun(op, task_id, route)
        run.otel_token = op.attach()
        run.var_token = current_run.set(run)

    def _postrun(self, task_id: Any, state: Any) -> None:
        run = current_run.get()
        if run is None or run.task_id != task_id:
            return
        try:
            if run.var_token is not None:
                current_run.reset(run.var_token)
            run.op.detach(run.otel_token)
        finally:
            run.op.end()
            outcome = OUTCOMES.get(state, "error") if isinstance(state, str) else "error"
            self.metrics.executed_with(run.route.outcome_attrs(outcome))
