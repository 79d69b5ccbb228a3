"""What every demo service shares: its settings from the environment and its JSON log file.

Nothing here mentions tracing: the services run under ``spanwise-instrument``, which loads the
Spanwise plugins, and the structlog plugin adds ``trace_id``/``span_id`` to every log line.
"""

from __future__ import annotations

import os
from typing import Any

import structlog


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def configure_logging(service: str) -> Any:
    """JSON lines to ``$DEMO_LOG_DIR/<service>.jsonl``, as a log shipper (Loki) would read them."""
    directory = env("DEMO_LOG_DIR", ".")
    stream = open(os.path.join(directory, f"{service}.jsonl"), "a", buffering=1)  # noqa: SIM115
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=stream),
    )
    return structlog.get_logger().bind(service=service)
