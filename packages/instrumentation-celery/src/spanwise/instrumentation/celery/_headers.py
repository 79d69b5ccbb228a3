"""What the plugin writes into and reads from Celery message headers, besides trace context.

Readers are tolerant: a missing, malformed, oversized or hostile value reads as ``None``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanContext, TraceFlags

from spanwise.core.propagation import MAX_HEADER_VALUE

from ._attributes import HEADER_RETRY_OF, HEADER_SENT_AT

__all__ = [
    "RequestGetter",
    "read_retry_of",
    "read_sent_at",
    "request_getter",
    "write_retry_of",
    "write_sent_at",
]

_RETRY_OF_LENGTH = 32 + 1 + 16
_HEX = frozenset("0123456789abcdef")
#: A wait longer than this is a clock problem, not a queue: such values are ignored.
MAX_WAIT_SECONDS = 7 * 24 * 3600.0


def write_sent_at(headers: MutableMapping[str, Any], now: float | None = None) -> None:
    """Stamp the publish time (a float, JSON- and pickle-safe)."""
    headers[HEADER_SENT_AT] = time.time() if now is None else now


def read_sent_at(carrier: Mapping[str, Any]) -> float | None:
    """The publish time stamped by :func:`write_sent_at`, or ``None``."""
    value = carrier.get(HEADER_SENT_AT)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    stamp = float(value)
    return stamp if math.isfinite(stamp) and stamp > 0 else None


def write_retry_of(headers: MutableMapping[str, Any], previous: SpanContext) -> None:
    """Name the attempt that asked for this retry, so the next attempt can link to it."""
    if previous.is_valid:
        headers[HEADER_RETRY_OF] = f"{previous.trace_id:032x}-{previous.span_id:016x}"


def read_retry_of(carrier: Mapping[str, Any]) -> SpanContext | None:
    """The previous attempt's span context written by :func:`write_retry_of`, or ``None``."""
    value = carrier.get(HEADER_RETRY_OF)
    if not isinstance(value, str) or len(value) != _RETRY_OF_LENGTH or value[32] != "-":
        return None
    trace_hex, span_hex = value[:32], value[33:]
    if not _HEX.issuperset(trace_hex) or not _HEX.issuperset(span_hex):
        return None
    trace_id = int(trace_hex, 16)
    span_id = int(span_hex, 16)
    context = SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
    return context if context.is_valid else None


def _usable(value: str) -> bool:
    return len(value) <= MAX_HEADER_VALUE and value.isascii()


class RequestGetter(Getter[Mapping[str, Any]]):
    """Reads propagation headers from the fields of a Celery request (``vars(task.request)``).

    Keys are looked up exactly: Celery keeps header names as they were published, and a
    request has some forty other fields that a case-insensitive scan would walk through for
    every header that is absent (``tracestate`` and ``baggage``, usually). Only ASCII text up to
    :data:`~spanwise.core.propagation.MAX_HEADER_VALUE` characters is returned: the W3C headers
    are ASCII, and other text (lone surrogates, say) makes a propagator raise, which would lose
    a valid ``traceparent`` sent along with it.
    """

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        try:
            value = carrier.get(key)
        except Exception:  # noqa: BLE001 - a hostile mapping
            return None
        if isinstance(value, str):
            return [value] if _usable(value) else None
        if isinstance(value, (list, tuple)):
            found = [v for v in value if isinstance(v, str) and _usable(v)]
            return found or None
        return None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        try:
            return [k for k in carrier if isinstance(k, str)]
        except Exception:  # noqa: BLE001
            return []


request_getter = RequestGetter()
