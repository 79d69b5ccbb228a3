"""Celery-specific attribute names, header keys and option names, written once."""

from __future__ import annotations

__all__ = [
    "CELERY_TASK_NAME",
    "CELERY_TASK_OUTCOME",
    "CELERY_TASK_RETRIES",
    "HEADER_RETRY_OF",
    "HEADER_SENT_AT",
    "LINK_ENV",
    "LINK_OPTION",
    "SYSTEM",
    "TASK_LINK_ATTRIBUTE",
]

#: ``messaging.system`` for every span and metric of this plugin.
SYSTEM = "celery"

#: The task's registered name (``tasks.add``), on spans and on the outcome metric.
CELERY_TASK_NAME = "celery.task.name"
#: How many times this execution was retried before (``request.retries``), on worker spans.
CELERY_TASK_RETRIES = "celery.task.retries"
#: ``success``, ``failure``, ``retry``, ``ignored``, ``rejected`` or ``error`` (no state).
CELERY_TASK_OUTCOME = "celery.task.outcome"

#: Message header: the publish time (seconds since the epoch), for the queue wait metric.
HEADER_SENT_AT = "spanwise_sent_at"
#: Message header on a retry: ``{trace_id:032x}-{span_id:016x}`` of the attempt that retried.
HEADER_RETRY_OF = "spanwise_retry_of"

#: ``instrument(use_links=True)``: worker spans link to the producer instead of being children.
LINK_OPTION = "use_links"
LINK_ENV = "SPANWISE_CELERY_USE_LINKS"
#: Per task, overriding the option: ``@app.task(spanwise_link=True)``.
TASK_LINK_ATTRIBUTE = "spanwise_link"
