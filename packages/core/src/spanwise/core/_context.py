"""Contexts built and read in one step on hot paths, with the public API as the fallback.

The API keeps a context's span and its baggage under keys it makes at import time. They are
read here once, from what the public functions build, and only trusted when such a context
holds exactly that one key: another API implementation gets the public calls instead.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import baggage, trace
from opentelemetry.context import Context

__all__ = ["BAGGAGE_KEY", "SPAN_KEY", "exemplar_context"]


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
