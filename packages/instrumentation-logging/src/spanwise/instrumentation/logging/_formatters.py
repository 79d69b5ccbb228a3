"""Defaults for formats that mention the plugin's fields, so they format without it."""

from __future__ import annotations

import logging

from ._fields import RECORD_DEFAULTS

__all__ = ["add_field_defaults"]


def _handlers() -> list[logging.Handler]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    manager = logging.Logger.manager
    loggers.extend(
        item for item in list(manager.loggerDict.values()) if isinstance(item, logging.Logger)
    )
    found: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in list(logger.handlers):
            found.setdefault(id(handler), handler)
    return list(found.values())


def add_field_defaults() -> int:
    """Give each formatter of a handler attached to a logger whose format mentions
    ``otelTraceID``, ``otelSpanID``, ``otelTraceSampled`` or ``otelServiceName`` a default
    for the field (``RECORD_DEFAULTS``), unless it has one. Returns how many were changed.

    Values on a record still win, so instrumenting again changes nothing.
    """
    changed = 0
    for handler in _handlers():
        style = getattr(handler.formatter, "_style", None)
        text = getattr(style, "_fmt", None)
        if not isinstance(text, str) or "otel" not in text:
            continue
        defaults = getattr(style, "_defaults", None) or {}
        missing = {k: v for k, v in RECORD_DEFAULTS.items() if k in text and k not in defaults}
        if missing:
            style._defaults = {**missing, **defaults}  # type: ignore[union-attr]
            changed += 1
    return changed
