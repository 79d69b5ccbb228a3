"""Span trees rendered as text, for assertions people can read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SpanRecord", "assert_span_tree", "render_tree", "to_record"]


@dataclass(frozen=True)
class SpanRecord:
    """A finished span as plain data: from this process, or read back from another one."""

    name: str
    kind: str
    trace_id: int
    span_id: int
    parent_span_id: int | None
    start_time: int
    end_time: int
    status: str = "UNSET"
    status_description: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[str, ...] = ()
    links: tuple[tuple[int, int], ...] = ()
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""

    @property
    def duration_s(self) -> float:
        return max(0, self.end_time - self.start_time) / 1e9


def to_record(span: Any) -> SpanRecord:
    """A :class:`SpanRecord` from an SDK ``ReadableSpan`` (records pass through)."""
    if isinstance(span, SpanRecord):
        return span
    ctx = span.context
    parent = span.parent
    return SpanRecord(
        name=span.name,
        kind=span.kind.name,
        trace_id=ctx.trace_id,
        span_id=ctx.span_id,
        parent_span_id=parent.span_id if parent is not None else None,
        start_time=span.start_time or 0,
        end_time=span.end_time or 0,
        status=span.status.status_code.name,
        status_description=span.status.description,
        attributes=dict(span.attributes or {}),
        events=tuple(e.name for e in span.events),
        links=tuple((link.context.trace_id, link.context.span_id) for link in span.links),
        resource=dict(span.resource.attributes) if span.resource else {},
        scope=span.instrumentation_scope.name if span.instrumentation_scope else "",
    )


def _label(span: SpanRecord, attributes: Sequence[str], kinds: bool, status: bool) -> str:
    text = span.name
    if kinds:
        text += f" [{span.kind}]"
    if status and span.status == "ERROR":
        text += " ERROR"
    shown = [f"{key}={span.attributes[key]!r}" for key in attributes if key in span.attributes]
    if shown:
        text += " " + " ".join(shown)
    return text


def render_tree(
    spans: Iterable[Any],
    attributes: Sequence[str] = (),
    *,
    kinds: bool = True,
    status: bool = True,
) -> str:
    """Render finished spans as trees, children under parents, siblings in start order.

    Each line is ``name [KIND]``, then ``ERROR`` for error spans and the requested attributes.
    Spans whose parent is not among *spans* are roots; traces follow each other by start time.

    .. versionadded:: 0.1.0
    """
    records = [to_record(s) for s in spans]
    ids = {(r.trace_id, r.span_id) for r in records}
    children: dict[tuple[int, int], list[SpanRecord]] = {}
    roots: list[SpanRecord] = []
    for r in records:
        key = (r.trace_id, r.parent_span_id or 0)
        if r.parent_span_id is not None and key in ids:
            children.setdefault(key, []).append(r)
        else:
            roots.append(r)
    lines: list[str] = []

    def walk(node: SpanRecord, prefix: str, last: bool, top: bool) -> None:
        label = _label(node, attributes, kinds, status)
        if top:
            lines.append(label)
            child_prefix = ""
        else:
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
            child_prefix = prefix + ("    " if last else "│   ")
        kids = sorted(children.get((node.trace_id, node.span_id), []), key=lambda s: s.start_time)
        for i, kid in enumerate(kids):
            walk(kid, child_prefix, i == len(kids) - 1, False)

    for root in sorted(roots, key=lambda s: s.start_time):
        walk(root, "", True, True)
    return "\n".join(lines)


def _normalise(text: str) -> str:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[indent:] for x in lines).strip()


def assert_span_tree(spans: Iterable[Any], expected: str, attributes: Sequence[str] = ()) -> None:
    """Assert that *spans* render exactly as *expected* (indentation of the block ignored).

    .. versionadded:: 0.1.0
    """
    actual = render_tree(spans, attributes)
    want = _normalise(expected)
    if actual != want:
        raise AssertionError(f"span tree differs\n--- expected\n{want}\n--- actual\n{actual}")
