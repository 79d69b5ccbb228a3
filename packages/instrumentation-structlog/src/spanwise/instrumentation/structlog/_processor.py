"""The processor that puts the current trace context into every event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.context import get_current
from opentelemetry.trace import Span
from opentelemetry.trace.propagation import _SPAN_KEY

if TYPE_CHECKING:
    from structlog.typing import EventDict, WrappedLogger

__all__ = ["add_trace_context"]

# The last span seen and its formatted ids. Log lines come in runs from one span, so most
# calls format nothing. One tuple, replaced whole, so a thread never sees a mix of two spans;
# holding the span keeps its identity from being reused while it is cached.
_last: tuple[Any, tuple[str, str, str]] = (None, ("", "", ""))


def add_trace_context(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Add ``trace_id`` (32 hex digits), ``span_id`` (16 hex digits) and ``trace_flags``
    (2 hex digits, ``"01"`` when sampled) of the current span to *event_dict*.

    Outside a valid span nothing is added. When the event already has a ``trace_id`` (one the
    application bound itself) the event is left alone. Use it by hand in
    ``structlog.configure(processors=[...])`` before the renderer, or let
    :class:`~spanwise.instrumentation.structlog.StructlogInstrumentor` insert it.

    .. versionadded:: 0.1.0
    """
    global _last
    span = get_current().get(_SPAN_KEY)
    if span is None:
        return event_dict
    last = _last
    if span is last[0]:
        ids = last[1]
    else:
        if not isinstance(span, Span):
            return event_dict
        ctx = span.get_span_context()
        if not ctx.is_valid:
            return event_dict
        ids = (f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}", f"{ctx.trace_flags:02x}")
        _last = (span, ids)
    if "trace_id" not in event_dict:
        event_dict["trace_id"], event_dict["span_id"], event_dict["trace_flags"] = ids
    return event_dict
