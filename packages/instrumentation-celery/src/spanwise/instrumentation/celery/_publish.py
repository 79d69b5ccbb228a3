"""Producer side: a PRODUCER span per published task, its context in the message headers.

``Celery.send_task`` (which ``apply_async``, ``delay``, retries and every canvas primitive end
in) is wrapped so the span always ends, with the exception if publishing failed. The span
itself starts in the ``before_task_publish`` signal, the first moment the queue and the task id
are known, and the trace context, the publish time and (for a retry) the retried attempt are
written into the message headers there.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from contextvars import ContextVar, Token
from typing import Any

from spanwise.core import Guard, MessagingOperation, MessagingTracer
from spanwise.core.context import suppressed
from spanwise.core.propagation import dict_setter, inject

from ._attributes import CELERY_TASK_NAME, HEADER_RETRY_OF
from ._headers import write_retry_of, write_sent_at
from ._worker import current_run

__all__ = ["Publisher"]


class _Slot:
    """Where ``before_task_publish`` leaves the operation for ``send_task`` to end."""

    __slots__ = ("op",)

    def __init__(self) -> None:
        self.op: MessagingOperation | None = None


#: Distinct task names whose span name and attributes are kept; beyond, built per publish.
MAX_NAMES = 256

_publishing: ContextVar[_Slot | None] = ContextVar("spanwise_celery_publish", default=None)


class Publisher:
    """The hooks around ``send_task`` (:class:`~spanwise.core.Hooks`) and the
    ``before_task_publish`` receiver.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_names", "guard", "messaging")

    def __init__(self, messaging: MessagingTracer, guard: Guard) -> None:
        self.messaging = messaging
        self.guard = guard
        #: Task name -> (span name, span attributes), for up to MAX_NAMES tasks.
        self._names: dict[str, tuple[str, dict[str, Any]]] = {}

    def _task(self, name: str) -> tuple[str, dict[str, Any]]:
        found = self._names.get(name)
        if found is None:
            found = (f"send {name}", {CELERY_TASK_NAME: name})
            if len(self._names) < MAX_NAMES:
                self._names[name] = found
        return found

    # -- around Celery.send_task: spanwise.core.Hooks -------------------------------------

    def enter(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[_Slot, Token[_Slot | None]]:
        """Open the slot the publish leaves its operation in, for this ``send_task`` call."""
        slot = _Slot()
        return slot, _publishing.set(slot)

    def exit(self, state: tuple[_Slot, Token[_Slot | None]], result: Any) -> None:
        """``send_task`` returned: end the span the publish started."""
        self._close(state)

    def error(self, state: tuple[_Slot, Token[_Slot | None]], exc: BaseException) -> None:
        """``send_task`` raised: the span records it and ends."""
        op = state[0].op
        try:
            if op is not None:
                op.record_exception(exc)
        finally:
            self._close(state)

    def _close(self, state: tuple[_Slot, Token[_Slot | None]]) -> None:
        slot, token = state
        try:
            _publishing.reset(token)
        finally:
            if slot.op is not None:
                slot.op.end()

    def on_before_publish(
        self,
        sender: Any = None,
        body: Any = None,
        exchange: Any = None,
        routing_key: Any = None,
        headers: Any = None,
        **_: Any,
    ) -> None:
        """``before_task_publish``: start the span, write our headers."""
        try:
            if isinstance(headers, MutableMapping) and not suppressed():
                self._before_publish(sender, body, exchange, routing_key, headers)
        except Exception as exc:  # noqa: BLE001
            self.guard.report("celery.before_task_publish", exc)

    def _before_publish(
        self,
        sender: Any,
        body: Any,
        exchange: Any,
        routing_key: Any,
        headers: MutableMapping[str, Any],
    ) -> None:
        task_id = headers.get("id")
        if task_id is None and isinstance(body, dict):  # task protocol 1
            task_id = body.get("id")
        slot = _publishing.get()
        if slot is not None and slot.op is None:
            destination = routing_key or exchange
            span_name, attributes = self._task(
                sender if isinstance(sender, str) else str(headers.get("task"))
            )
            op = self.messaging.start_send(
                destination if isinstance(destination, str) else None,
                message_id=task_id if isinstance(task_id, str) else None,
                attributes=attributes,
                name=span_name,
            )
            slot.op = op
            op.inject(headers, dict_setter)
        else:  # published some other way than send_task: carry on the current trace
            inject(headers, dict_setter)
        write_sent_at(headers)
        run = current_run.get()
        if run is not None and run.task_id == task_id:  # the running task retries itself
            write_retry_of(headers, run.op.span.get_span_context())
        else:  # never let a copied header make an unrelated task look like a retry
            headers.pop(HEADER_RETRY_OF, None)
