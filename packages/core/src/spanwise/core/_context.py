"""Contexts built and read in one step on hot paths, with the public API as the fallback.

The API keeps a context's span and its baggage under keys it makes at import time. They are
read here once, from what the public functions build, and only trusted when such a context
holds exactly that one key: another API implementation gets the public calls instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.context import Context

__all__ = [
    "BAGGAGE_KEY",
    "SPAN_KEY",
    "attach",
    "current",
    "exemplar_context",
    "reset",
    "runtime_variable",
    "suppress",
    "suppressed",
    "with_span",
]


def _only_key(probe: Any, value: Any) -> str | None:
    """The one key of *probe* (a context the API built) if it holds just *value* under it."""
    keys = list(probe)
    if type(probe) is Context and len(keys) == 1 and probe[keys[0]] == value:
        return keys[0]  # type: ignore[no-any-return]
    return None


def _probe_keys() -> tuple[str | None, str | None]:
    try:
        span_key = _only_key(
            trace.set_span_in_context(trace.INVALID_SPAN, Context()), trace.INVALID_SPAN
        )
    except Exception:  # noqa: BLE001 - another API: the public way it is
        span_key = None
    try:
        baggage_key = _only_key(baggage.set_baggage("k", "v", Context()), {"k": "v"})
    except Exception:  # noqa: BLE001
        baggage_key = None
    return span_key, baggage_key


SPAN_KEY, BAGGAGE_KEY = _probe_keys()
"""The keys of a context's span and baggage, or None when they could not be read safely."""

_EMPTY = Context()


def exemplar_context(span: trace.Span) -> Context:
    """A context holding only *span*, for a measurement's exemplar to link to it even after the
    span was detached (the span is all the SDK reads from it; the current context is neither
    read nor copied)."""
    if SPAN_KEY is not None:
        return Context({SPAN_KEY: span})
    return trace.set_span_in_context(span, _EMPTY)


def runtime_variable() -> tuple[Any, ContextVar[Context]] | None:
    """The API's runtime context and the context variable behind its current context, when
    that runtime is the API's own (``contextvars``) one and attaching through the API is seen
    to set exactly that variable; ``None`` with any other runtime or API.

    For a hot path that reads the variable directly while ``opentelemetry.context.
    _RUNTIME_CONTEXT`` is still the runtime returned here (the functions of
    :mod:`spanwise.core.context` decide once, at import).

    .. versionadded:: 0.2.0
    """
    try:
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

        runtime: Any = otel_context._RUNTIME_CONTEXT
        var = runtime._current_context
        if type(runtime) is not ContextVarsRuntimeContext or type(var) is not ContextVar:
            return None
        probe = Context()
        token = otel_context.attach(probe)
        try:
            seen = var.get() is probe
        finally:
            otel_context.detach(token)
        return (runtime, var) if seen and var.get() is not probe else None
    except Exception:  # noqa: BLE001 - another API or runtime: the public way it is
        return None


def _runtime_var() -> ContextVar[Context] | None:
    """The context variable behind the API's current context, or ``None``
    (:func:`runtime_variable`)."""
    found = runtime_variable()
    return None if found is None else found[1]


_VAR = _runtime_var()

attach: Callable[[Context], Token[Context]] = _VAR.set if _VAR is not None else otel_context.attach
"""``opentelemetry.context.attach`` without its two Python calls (the context variable's own
``set``) when the runtime context is the API's default one; the public function otherwise."""

current: Callable[[], Context] = _VAR.get if _VAR is not None else otel_context.get_current
"""``opentelemetry.context.get_current``, one step when the runtime is the default one."""


reset: Callable[[Token[Context]], None] = _VAR.reset if _VAR is not None else otel_context.detach
"""Undo :func:`attach`. Unlike ``opentelemetry.context.detach`` it may *raise* for a token
that cannot be reset here (another task's, or one already used): callers catch and report."""


def with_span(span: trace.Span) -> Context:
    """The current context with *span* as its span: ``trace.set_span_in_context(span)`` in one
    step."""
    if SPAN_KEY is None:
        return trace.set_span_in_context(span)
    values = dict(current())
    values[SPAN_KEY] = span
    return Context(values)


_SUPPRESS_KEY: Any = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", None)
# The HTTP key is set by suppress_http_instrumentation() (opentelemetry-instrumentation),
# which contrib's HTTP clients honour too; the API only names it.
_SUPPRESS_HTTP_KEY: Any = getattr(otel_context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None)


def suppressed(*, http: bool = False) -> bool:
    """Whether the current context asks for no instrumentation: inside
    ``suppress_instrumentation()`` (the SDK's processors export in it, so an exporter's own
    requests, queries or messages are never traced), and with *http* also inside
    ``suppress_http_instrumentation()``. Client plugins pass such calls straight through.

    .. versionadded:: 0.1.0
    """
    ctx = current()
    if _SUPPRESS_KEY is not None and ctx.get(_SUPPRESS_KEY):
        return True
    return http and _SUPPRESS_HTTP_KEY is not None and bool(ctx.get(_SUPPRESS_HTTP_KEY))


@contextlib.contextmanager
def suppress(*, http: bool = False) -> Iterator[None]:
    """Within the block, client plugins trace nothing (with *http*, only HTTP clients):
    the same context keys as ``opentelemetry.instrumentation.utils.suppress_instrumentation``
    and ``suppress_http_instrumentation``, so either side's suppression is honoured by both.

    .. versionadded:: 0.1.0
    """
    key = _SUPPRESS_HTTP_KEY if http else _SUPPRESS_KEY
    if key is None:  # an API without the key: nothing to set, nothing reads it
        yield
        return
    token = otel_context.attach(otel_context.set_value(key, True))
    try:
        yield
    finally:
        otel_context.detach(token)
