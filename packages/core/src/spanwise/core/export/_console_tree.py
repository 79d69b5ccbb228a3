"""Finished traces printed as trees: durations, status, and the slowest path marked."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ..testing._tree import SpanRecord, to_record

__all__ = ["ConsoleSpanTreeExporter", "format_duration", "format_trace_tree"]

_RED = "\033[31m"
_YELLOW = "\033[33m"
_DIM = "\033[2m"
_RESET = "\033[0m"
SLOWEST = "← slowest"


def format_duration(seconds: float) -> str:
    """``850µs``, ``12ms``, ``4.07s``: three significant digits at most."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:.3g}ms" if ms < 100 else f"{ms:.0f}ms"
    return f"{seconds:.3g}s"


def format_trace_tree(
    spans: Iterable[Any], *, color: bool = False, attributes: Sequence[str] = ()
) -> str:
    """Render spans (SDK spans or :class:`SpanRecord`) as trees, one per trace.

    Each line: name, duration, ``ERROR <description>`` for failed spans, chosen attributes; at
    each level with several children the slowest one is marked ``← slowest``.

    .. versionadded:: 0.1.0
    """
    records = [to_record(s) for s in spans]
    by_id = {(r.trace_id, r.span_id): r for r in records}
    children: dict[tuple[int, int], list[SpanRecord]] = {}
    roots: list[SpanRecord] = []
    for r in records:
        if r.parent_span_id is not None and (r.trace_id, r.parent_span_id) in by_id:
            children.setdefault((r.trace_id, r.parent_span_id), []).append(r)
        else:
            roots.append(r)
    lines: list[str] = []

    def label(node: SpanRecord, slowest: bool) -> str:
        text = f"{node.name} {format_duration(node.duration_s)}"
        shown = [f"{k}={node.attributes[k]}" for k in attributes if k in node.attributes]
        if shown:
            text += "  " + " ".join(shown)
        if slowest:
            text += f"  {_YELLOW + SLOWEST + _RESET if color else SLOWEST}"
        if node.status == "ERROR":
            err = "ERROR" + (f" {node.status_description}" if node.status_description else "")
            text += f"  {_RED + err + _RESET if color else err}"
        return text

    def walk(node: SpanRecord, prefix: str, last: bool, top: bool, slowest: bool) -> None:
        if top:
            lines.append(label(node, slowest))
            child_prefix = ""
        else:
            branch = "└── " if last else "├── "
            lines.append(
                f"{prefix}{_DIM + branch + _RESET if color else branch}{label(node, slowest)}"
            )
            child_prefix = prefix + ("    " if last else "│   ")
        kids = sorted(children.get((node.trace_id, node.span_id), []), key=lambda s: s.start_time)
        slow = max(kids, key=lambda s: s.end_time - s.start_time) if len(kids) > 1 else None
        for i, kid in enumerate(kids):
            walk(kid, child_prefix, i == len(kids) - 1, False, kid is slow)

    for root in sorted(roots, key=lambda s: s.start_time):
        walk(root, "", True, True, False)
    return "\n".join(lines)


class ConsoleSpanTreeExporter(SpanExporter):
    """Prints each finished trace as a tree when its local root ends.

    Spans are held per trace until the trace's local root (a span with no parent, or a remote
    parent) is exported; memory is bounded by *max_traces* pending traces and *max_spans* spans
    each (the oldest pending trace is printed as it stands when the bound is reached). Colour
    only when the output is a terminal.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        out: TextIO | None = None,
        *,
        color: bool | None = None,
        max_traces: int = 1000,
        max_spans: int = 1000,
        attributes: Sequence[str] = (),
    ) -> None:
        self._out = out
        self._color = color
        self._max_traces = max_traces
        self._max_spans = max_spans
        self._attributes = tuple(attributes)
        self._pending: OrderedDict[int, list[ReadableSpan]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def out(self) -> TextIO:
        return self._out if self._out is not None else sys.stdout

    def _use_color(self) -> bool:
        if self._color is not None:
            return self._color
        isatty = getattr(self.out, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:
            return False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ready: list[list[ReadableSpan]] = []
        with self._lock:
            for span in spans:
                trace_id = span.context.trace_id
                bucket = self._pending.setdefault(trace_id, [])
                if len(bucket) < self._max_spans:
                    bucket.append(span)
                parent = span.parent
                if parent is None or parent.is_remote:
                    ready.append(self._pending.pop(trace_id))
            while len(self._pending) > self._max_traces:
                ready.append(self._pending.popitem(last=False)[1])
        for group in ready:
            self._print(group)
        return SpanExportResult.SUCCESS

    def _print(self, spans: list[ReadableSpan]) -> None:
        try:
            text = format_trace_tree(spans, color=self._use_color(), attributes=self._attributes)
            self.out.write(text + "\n")
            self.out.flush()
        except (OSError, ValueError):
            pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        with self._lock:
            groups = list(self._pending.values())
            self._pending.clear()
        for group in groups:
            self._print(group)
        return True

    def shutdown(self) -> None:
        self.force_flush()
