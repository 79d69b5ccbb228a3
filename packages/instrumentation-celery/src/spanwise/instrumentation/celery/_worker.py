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

from ._attributes import CELERY_TASK_NAME, CELERY_TASK_RETRIES, TASK_LINK_ATTRIBUTE
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


class TaskRun:
    """One task execution in progress."""

    __slots__ = ("attrs", "op", "otel_token", "task_id", "var_token")

    def __init__(self, op: MessagingOperation, task_id: str, attrs: dict[str, Any]) -> None:
        self.op = op
        self.task_id = task_id
        self.attrs = attrs
        self.otel_token: object = None
        self.var_token: Token[TaskRun | None] | None = None


#: The execution running in this thread/greenlet, if any (also read when a task retries).
current_run: ContextVar[TaskRun | None] = ContextVar("spanwise_celery_run", default=None)


class TaskTracer:
    """The signal receivers of the worker side.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("guard", "link", "messaging", "metrics")

    def __init__(
        self, messaging: MessagingTracer, metrics: TaskMetrics, guard: Guard, *, link: bool
    ) -> None:
        self.messaging = messaging
        self.metrics = metrics
        self.guard = guard
        self.link = link

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

    def _prerun(self, task_id: str, task: Any) -> None:
        request = task.request
        # Celery copies every message header onto the request, ours included.
        carrier = vars(request)
        info = request.delivery_info
        destination = info.get("routing_key") if isinstance(info, dict) else None
        if not isinstance(destination, str):
            destination = None
        name = task.name if isinstance(task.name, str) else str(task.name)
        per_task = getattr(task, TASK_LINK_ATTRIBUTE, None)
        retries = request.retries
        op = self.messaging.start_process(
            destination,
            carrier=carrier,
            getter=request_getter,
            link=self.link if per_task is None else bool(per_task),
            message_id=task_id,
            attributes={
                CELERY_TASK_NAME: name,
                CELERY_TASK_RETRIES: retries if isinstance(retries, int) else 0,
            },
        )
        if op.recording:
            op.span.update_name(f"process {name}")
            previous = read_retry_of(carrier)
            if previous is not None:
                op.span.add_link(previous)
        attrs = TaskMetrics.attributes(name, destination)
        sent_at = read_sent_at(carrier)
        if sent_at is not None and request.eta is None:  # an ETA/countdown wait is by design
            wait = time.time() - sent_at
            if 0.0 <= wait <= MAX_WAIT_SECONDS:
                self.metrics.waited(attrs, wait)
        run = TaskRun(op, task_id, attrs)
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
            self.metrics.executed(run.attrs, outcome)
