"""Where in a processor chain our processors go: just before the renderer."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import structlog

__all__ = ["capture_chain", "insert_before_renderer", "renderer_index"]


@cache
def _renderer_types() -> tuple[type, ...]:
    found: list[type] = []
    for module, name in (
        ("processors", "JSONRenderer"),
        ("processors", "KeyValueRenderer"),
        ("processors", "LogfmtRenderer"),
        ("dev", "ConsoleRenderer"),
        ("twisted", "JSONRenderer"),
        ("twisted", "EventAdapter"),
    ):
        try:
            owner = getattr(structlog, module)
        except (AttributeError, ImportError):  # structlog.twisted needs Twisted
            continue
        kind = getattr(owner, name, None)
        if isinstance(kind, type):
            found.append(kind)
    return tuple(found)


@cache
def _renderer_functions() -> tuple[Any, ...]:
    stdlib = structlog.stdlib
    names = ("render_to_log_kwargs", "render_to_log_args_and_kwargs")
    found = [getattr(stdlib, name) for name in names if hasattr(stdlib, name)]
    found.append(stdlib.ProcessorFormatter.wrap_for_formatter)
    return tuple(found)


def renderer_index(chain: Sequence[Any]) -> int:
    """The index of the first known renderer in *chain*; else of its last processor, which
    by structlog's contract is the one that renders for the logger; 0 for an empty chain."""
    types = _renderer_types()
    functions = _renderer_functions()
    for index, processor in enumerate(chain):
        if isinstance(processor, types) or any(processor is f for f in functions):
            return index
    return max(0, len(chain) - 1)


def capture_chain(chain: Sequence[Any]) -> bool:
    """Whether *chain* is ``structlog.testing.capture_logs``'s: tests compare what it
    captures, so nothing is added to it."""
    capture = getattr(structlog.testing, "LogCapture", None)
    return capture is not None and any(isinstance(p, capture) for p in chain)


def insert_before_renderer(chain: Sequence[Any], processors: Sequence[Any]) -> list[Any]:
    """A new list: *chain* with those of *processors* it lacks inserted before the renderer."""
    new = [p for p in processors if not any(p is q for q in chain)]
    out = list(chain)
    index = renderer_index(out)
    out[index:index] = new
    return out
