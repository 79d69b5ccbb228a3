"""``process_message(msg)``: scope the handling of one consumed message explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from spanwise.core import MessagingOperation
from spanwise.core.propagation import kafka_getter

from . import _consumer

__all__ = ["process_message"]


@contextmanager
def process_message(message: Any) -> Iterator[trace.Span]:
    """Make *message*'s ``process {topic}`` span current for the block, and end it after.

    For a message returned by an instrumented consumer's ``poll()``/``consume()`` this is the
    span already started for it (ended here rather than at the next poll); for any other
    message a new CONSUMER span is started from its headers. An exception leaving the block is
    recorded on the span and propagates unchanged. When Kafka is not instrumented the block
    runs with a non-recording span. Nothing about *message* is changed.

    .. versionadded:: 0.1.0
    """
    operation: MessagingOperation | None = None
    state = None
    token: object = None
    steps = _consumer.active[0] if _consumer.active else None
    if steps is not None:
        try:
            entry = _consumer.open_operations.pop(id(message), None)
            if entry is not None and entry[0] is message:
                _, operation, state = entry
                state.open = [pair for pair in state.open if pair[0] is not message]
            else:
                topic = message.topic()
                operation = steps.messaging.start_process(
                    topic if isinstance(topic, str) else None,
                    carrier=message.headers(),
                    getter=kafka_getter,
                    partition=message.partition(),
                )
            token = otel_context.attach(operation.context)
        except Exception as exc:  # noqa: BLE001
            steps.guard.report("kafka.process_message", exc)
    span = operation.span if operation is not None else trace.INVALID_SPAN
    try:
        yield span
    except BaseException as exc:
        if operation is not None and steps is not None:
            steps.guard.call("kafka.process_message", operation.record_exception, exc)
        raise
    finally:
        if steps is not None and operation is not None:
            try:
                if token is not None:
                    otel_context.detach(token)  # type: ignore[arg-type]
                operation.end()
                if state is not None and state.open == [] and state.context is not None:
                    _consumer.release(state)
            except Exception as exc:  # noqa: BLE001
                steps.guard.report("kafka.process_message", exc)
