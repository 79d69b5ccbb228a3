"""Worker processes: finish exporting before a process exits.

A prefork pool child recycled by ``max_tasks_per_child`` (or killed at shutdown) leaves with
``os._exit``: no ``atexit`` hook runs, so spans still queued in a ``BatchSpanProcessor`` and
metrics not yet collected would be lost. Celery sends ``worker_process_shutdown`` in the child
just before it exits, and ``worker_shutdown`` in the main process; both flush here.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics, trace

from spanwise.core import Guard

__all__ = ["FLUSH_TIMEOUT_MILLIS", "ProcessLifecycle"]

#: How long one flush may take, per provider: bounded so a dead collector cannot hang exit.
FLUSH_TIMEOUT_MILLIS = 5000


class ProcessLifecycle:
    """Flushes the tracer and meter providers (given, else the global ones).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("guard", "meter_provider", "tracer_provider")

    def __init__(self, guard: Guard, tracer_provider: Any = None, meter_provider: Any = None):
        self.guard = guard
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider

    def flush(self) -> None:
        """Flush both providers, when they can be flushed (the API's proxies cannot)."""
        providers = (
            self.tracer_provider or trace.get_tracer_provider(),
            self.meter_provider or metrics.get_meter_provider(),
        )
        for provider in providers:
            force_flush = getattr(provider, "force_flush", None)
            if callable(force_flush):
                try:
                    force_flush(FLUSH_TIMEOUT_MILLIS)
                except Exception as exc:  # noqa: BLE001
                    self.guard.report("celery.flush", exc)

    def on_shutdown(self, sender: Any = None, **_: Any) -> None:
        """``worker_process_shutdown`` / ``worker_shutdown`` receiver."""
        self.flush()
