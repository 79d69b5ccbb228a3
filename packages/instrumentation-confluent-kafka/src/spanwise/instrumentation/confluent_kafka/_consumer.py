"""``poll()`` / ``consume()`` / ``close()``: a CONSUMER ``process {topic}`` span per message.

No span for an empty poll. The span of a polled message is current while the app handles it and
ends at the consumer's next ``poll``/``consume``/``close`` (or when
:func:`~spanwise.instrumentation.confluent_kafka.process_message` scopes it explicitly).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

from opentelemetry import context as otel_context

from spanwise.core import Guard, MessagingOperation, MessagingTracer
from spanwise.core.propagation import kafka_getter
from spanwise.core.semconv import MESSAGING_KAFKA_OFFSET

from ._clients import STATE_ATTRIBUTE, ConsumerState, state_of

__all__ = ["ConsumerSteps", "active", "finish", "open_operations", "release"]

#: id(message) -> (message, operation, state) for every process span still open; an entry
#: lives until the consumer's next call (bounded by one poll's or consume's batch per consumer).
open_operations: dict[int, tuple[Any, MessagingOperation, ConsumerState]] = {}

#: The steps of the current instrumentation, or ``None`` when not instrumented.
active: list[ConsumerSteps] = []


def release(state: ConsumerState) -> None:
    """Give the context attached by the last poll back: detach it if it is still current."""
    ctx = state.context
    if ctx is not None:
        token = state.token
        state.context = state.token = None
        if otel_context.get_current() is ctx:
            otel_context.detach(token)


def finish(state: ConsumerState) -> None:
    """End every process span the last poll/consume started on this consumer."""
    release(state)
    if state.open:
        pending, state.open = state.open, []
        for message, operation in pending:
            open_operations.pop(id(message), None)
            operation.end()


class ConsumerSteps:
    """The :data:`~spanwise.core.Around` steps for a consumer class's methods."""

    __slots__ = ("guard", "messaging")

    def __init__(self, messaging: MessagingTracer, guard: Guard) -> None:
        self.messaging = messaging
        self.guard = guard

    def state(self, instance: Any) -> ConsumerState:
        """The consumer's state, created on first use for consumers built before instrument()."""
        state = state_of(instance)
        if state is None:
            state = ConsumerState(None)
            setattr(instance, STATE_ATTRIBUTE, state)
        return state  # type: ignore[no-any-return]

    def start(self, message: Any, state: ConsumerState) -> MessagingOperation:
        """Start the process span of *message*, a child of (or linked to) its producer's span."""
        offset = message.offset()
        operation = self.messaging.start_process(
            message.topic(),
            carrier=message.headers(),
            getter=kafka_getter,
            partition=message.partition(),
            consumer_group=state.group,
            client_id=state.client_id,
            attributes=None if offset is None else {MESSAGING_KAFKA_OFFSET: offset},
        )
        state.open.append((message, operation))
        open_operations[id(message)] = (message, operation, state)
        return operation

    def poll(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[None, Any, None]:
        state = self.state(instance)
        finish(state)
        started = time.perf_counter()
        message = yield None
        if message is None or message.error() is not None:
            return
        self.messaging.record_receive(
            message.topic(),
            1,
            time.perf_counter() - started,
            operation_name="poll",
            consumer_group=state.group,
        )
        operation = self.start(message, state)
        state.context = ctx = operation.context
        state.token = otel_context.attach(ctx)

    def consume(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[None, Any, None]:
        state = self.state(instance)
        finish(state)
        started = time.perf_counter()
        messages = yield None
        if not messages:
            return
        elapsed = time.perf_counter() - started
        counts: dict[str, int] = {}
        operation = None
        for message in messages:
            if message.error() is None:
                topic = message.topic()
                counts[topic] = counts.get(topic, 0) + 1
                operation = self.start(message, state)
        for topic, count in counts.items():
            self.messaging.record_receive(
                topic, count, elapsed, operation_name="consume", consumer_group=state.group
            )
        if operation is not None and len(state.open) == 1:
            state.context = ctx = operation.context
            state.token = otel_context.attach(ctx)

    def close(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[None, Any, None]:
        state = state_of(instance)
        if state is not None:
            finish(state)
        yield None
