"""The steps that run around one command and one pipeline: a span, a duration, nothing else."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any
from weakref import WeakSet

from opentelemetry.trace import Status, StatusCode

from spanwise.core import DbClientTracer, DbOperation, Guard, Options, max_attribute_length
from spanwise.core.context import suppressed
from spanwise.core.semconv import (
    DB_QUERY_TEXT,
    EXCEPTION_MESSAGE,
    EXCEPTION_TYPE,
    error_type,
)

from ._attributes import (
    connection_info,
    error_message,
    is_transaction,
    pipeline_commands,
    response_status_code,
)
from ._query import command_name, pipeline_text, query_text

__all__ = ["RedisSteps", "record_error"]

_STACKTRACE = "exception.stacktrace"


def record_error(op: DbOperation, exc: BaseException) -> None:
    """Record *exc* on the operation: ``error.type``, the server's code, a value-free message."""
    op.error_type = error_type(exc)
    code = response_status_code(exc)
    if code is not None:
        op.set_response_status_code(code)
    if not op.recording:
        return
    message = error_message(exc)
    # The SDK would put str(exc) into the event and the stack trace; redis-py's pipeline
    # errors carry the failing command's values there, so both are written from `message`.
    stack = "".join(traceback.format_tb(exc.__traceback__))
    op.span.record_exception(
        exc,
        attributes={
            EXCEPTION_TYPE: op.error_type,
            EXCEPTION_MESSAGE: message,
            _STACKTRACE: f"Traceback (most recent call last):\n{stack}{op.error_type}: {message}",
        },
    )
    op.span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"[:1024]))


class RedisSteps:
    """What runs around commands and pipelines of any redis-py client: :attr:`command` and
    :attr:`pipeline` are :class:`~spanwise.core.Hooks` for
    :meth:`~spanwise.core.Patcher.hooks_sync` and :meth:`~spanwise.core.Patcher.hooks_async`.

    *skip* holds clients and pipelines traced by their own instance-level wrappers
    (``instrument_client``): the class-level steps let those pass so nothing is traced twice.
    """

    __slots__ = (
        "_max_length",
        "_skip_any",
        "_text",
        "command",
        "db",
        "guard",
        "pipeline",
        "raw",
        "request_hook",
        "response_hook",
        "skip",
    )

    def __init__(
        self, db: DbClientTracer, options: Options, guard: Guard, skip: Any = None
    ) -> None:
        self.db = db
        self.guard = guard
        self.skip = skip
        # What tells cheaply whether *skip* holds anything: a WeakSet's own set of references
        # (its len() is a Python-level call per command), else *skip* itself.
        self._skip_any: Any = getattr(skip, "data", skip) if isinstance(skip, WeakSet) else skip
        self.raw = db.query_text_mode == "raw"
        self._text = db.query_text_mode != "off"
        self._max_length = max_attribute_length()
        self.request_hook: Callable[..., Any] | None = options.request_hook
        self.response_hook: Callable[..., Any] | None = options.response_hook
        self.command = _Hooks(self.enter_command, self)
        self.pipeline = _Hooks(self.enter_pipeline, self)

    def enter_command(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[DbOperation, Any] | None:
        """One span named by the command (``GET``) around ``execute_command``."""
        if not args or (self._skip_any and instance in self.skip) or suppressed():
            return None
        namespace, host, port = connection_info(instance)
        name = command_name(args[0])
        # The text goes in at start with the other attributes: one attribute pass in the SDK.
        text = query_text(args, self.raw, name) if self._text else None
        op = self.db.start(
            name, query_text=text, namespace=namespace, server_address=host, server_port=port
        )
        if op.recording and self.request_hook is not None:
            self.guard.hook(
                "redis.request_hook", self.request_hook, op.span, instance, args, kwargs
            )
        return op, instance

    def enter_pipeline(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[DbOperation, Any] | None:
        """One ``PIPELINE`` (or ``MULTI``) span around a pipeline's ``execute``."""
        if (self._skip_any and instance in self.skip) or suppressed():
            return None
        commands = pipeline_commands(instance)
        if not commands and not getattr(instance, "watching", False):
            return None  # nothing is sent: redis-py returns [] at once
        namespace, host, port = connection_info(instance)
        op = self.db.start(
            "MULTI" if is_transaction(instance) else "PIPELINE",
            namespace=namespace,
            server_address=host,
            server_port=port,
            batch_size=len(commands),
        )
        if op.recording:
            if self._text:
                text = pipeline_text(commands, self.raw)
                op.span.set_attribute(DB_QUERY_TEXT, text[: self._max_length])
            if self.request_hook is not None:
                self.guard.hook(
                    "redis.request_hook", self.request_hook, op.span, instance, args, kwargs
                )
        return op, instance

    def exit(self, state: tuple[DbOperation, Any], result: Any) -> None:
        """The call returned *result*: the response hook, then the span ends."""
        op, instance = state
        try:
            if op.recording and self.response_hook is not None:
                self.guard.hook(
                    "redis.response_hook", self.response_hook, op.span, instance, result
                )
        finally:
            op.end()

    def error(self, state: tuple[DbOperation, Any], exc: BaseException) -> None:
        """The call raised *exc*: recorded, then the span ends."""
        op = state[0]
        try:
            record_error(op, exc)
        finally:
            op.end()


class _Hooks:
    """One way into :class:`RedisSteps` (commands or pipelines); the way out is shared."""

    __slots__ = ("enter", "error", "exit")

    def __init__(self, enter: Callable[..., Any], steps: RedisSteps) -> None:
        self.enter = enter
        self.exit = steps.exit
        self.error = steps.error
