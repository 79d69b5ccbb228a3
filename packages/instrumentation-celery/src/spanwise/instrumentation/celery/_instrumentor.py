"""``CeleryInstrumentor``: wires the producer wrapper and the signal receivers."""

from __future__ import annotations

from typing import Any

from spanwise.core import Instrumentor, MessagingTracer

from ._attributes import LINK_ENV, LINK_OPTION, SYSTEM
from ._metrics import TaskMetrics
from ._process import ProcessLifecycle
from ._publish import Publisher
from ._worker import TaskTracer

__all__ = ["CeleryInstrumentor"]


class CeleryInstrumentor(Instrumentor):
    """Traces Celery: a PRODUCER span per published task, a CONSUMER span per execution.

    ``CeleryInstrumentor().instrument()`` once, in the module that creates the Celery app (it
    is imported by both the client and the worker). Prefork pool children inherit the
    instrumentation, and flush their spans and metrics before they exit: no
    ``worker_process_init`` code is needed.

    Options (besides the shared ones, ``tracer_provider`` and ``meter_provider``):

    ``use_links`` (env ``SPANWISE_CELERY_USE_LINKS``, default ``False``)
        Worker spans start a new trace linked to the producer's span instead of being its
        child. Per task: ``@app.task(spanwise_link=True)`` (or ``False``) overrides it.

    .. versionadded:: 0.1.0
    """

    name = "celery"
    distribution = "spanwise-instrumentation-celery"

    _connected: list[tuple[Any, Any, str]]

    def _instrument(self) -> None:
        from celery import signals

        link = bool(self.options.get(LINK_OPTION, False, env=LINK_ENV))
        messaging = MessagingTracer(
            self.tracer, self.meter, self.options, self.guard, system=SYSTEM, link=link
        )
        publisher = Publisher(messaging, self.guard)
        worker = TaskTracer(messaging, TaskMetrics(self.meter), self.guard, link=link)
        lifecycle = ProcessLifecycle(
            self.guard, self.options.tracer_provider, self.options.meter_provider
        )
        self.patcher.wrap(
            "celery.app.base",
            "Celery.send_task",
            self.patcher.hooks_sync("celery.send_task", publisher),
        )
        self._connected = []
        for signal, receiver in (
            (signals.before_task_publish, publisher.on_before_publish),
            (signals.task_prerun, worker.on_prerun),
            (signals.task_failure, worker.on_failure),
            (signals.task_retry, worker.on_retry),
            (signals.task_postrun, worker.on_postrun),
            (signals.worker_process_shutdown, lifecycle.on_shutdown),
            (signals.worker_shutdown, lifecycle.on_shutdown),
        ):
            uid = f"spanwise.celery.{signal.name}"
            signal.connect(receiver, weak=False, dispatch_uid=uid)
            self._connected.append((signal, receiver, uid))

    def _uninstrument(self) -> None:
        connected, self._connected = getattr(self, "_connected", []), []
        for signal, receiver, uid in connected:
            signal.disconnect(receiver, dispatch_uid=uid)
