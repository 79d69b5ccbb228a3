"""The current OpenTelemetry context, read and set in one step on hot paths.

Each is the ``opentelemetry.context`` function it is named after, minus the API's layers of
Python calls, when the runtime context is the API's default (``contextvars``) one; with any
other runtime they are the public functions themselves. The runtime is looked at once, when
this module is imported, as the API itself loads it once (``OTEL_PYTHON_CONTEXT``) at import.

:func:`suppress` and :func:`suppressed` set and read the API's suppression keys (the ones
``opentelemetry.instrumentation.utils.suppress_instrumentation`` sets): client plugins pass
calls made under them straight through. :func:`runtime_variable` is for a hot path that
follows a runtime context replaced after import.
"""

from .._context import (
    attach,
    current,
    reset,
    runtime_variable,
    suppress,
    suppressed,
    with_span,
)

__all__ = [
    "attach",
    "current",
    "reset",
    "runtime_variable",
    "suppress",
    "suppressed",
    "with_span",
]
