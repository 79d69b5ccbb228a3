"""Spanwise instrumentation for Celery: one trace from ``apply_async`` through the worker."""

from ._attributes import (
    CELERY_TASK_NAME,
    CELERY_TASK_OUTCOME,
    CELERY_TASK_RETRIES,
    TASK_LINK_ATTRIBUTE,
)
from ._instrumentor import CeleryInstrumentor
from ._metrics import TASK_EXECUTIONS, TASK_WAIT_DURATION

__all__ = [
    "CELERY_TASK_NAME",
    "CELERY_TASK_OUTCOME",
    "CELERY_TASK_RETRIES",
    "TASK_EXECUTIONS",
    "TASK_LINK_ATTRIBUTE",
    "TASK_WAIT_DURATION",
    "CeleryInstrumentor",
]
