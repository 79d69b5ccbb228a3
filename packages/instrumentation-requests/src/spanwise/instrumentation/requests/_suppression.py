"""Whether the caller asked for no instrumentation (the SDK does while it exports)."""

from __future__ import annotations

from opentelemetry import context

from spanwise.core.context import current as _current

__all__ = ["suppressed"]

_KEYS = tuple(
    key
    for key in (
        getattr(context, "_SUPPRESS_INSTRUMENTATION_KEY", None),
        getattr(context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None),
    )
    if key is not None
)


def suppressed() -> bool:
    """True inside ``suppress_instrumentation()`` or ``suppress_http_instrumentation()``.

    The SDK's span, metric and log processors set the first while exporting, so an exporter
    that sends over ``requests`` (OTLP/HTTP) never traces its own requests.
    """
    current = _current()
    for key in _KEYS:  # noqa: SIM110 - a loop: no generator made per request
        if current.get(key):
            return True
    return False
