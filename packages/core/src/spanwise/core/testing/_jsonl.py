"""Spans exported as JSON lines, so tests can read what a server in another process traced."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._tree import SpanRecord, to_record

__all__ = ["JsonLinesSpanExporter", "install_jsonl_export", "read_spans"]


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


class JsonLinesSpanExporter(SpanExporter):
    """Appends one JSON object per finished span to *path* (one ``write`` per line, so
    several processes may share the file).

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            r = to_record(span)
            lines.append(
                json.dumps(
                    {
                        "name": r.name,
                        "kind": r.kind,
                        "trace_id": f"{r.trace_id:032x}",
                        "span_id": f"{r.span_id:016x}",
                        "parent_span_id": None
                        if r.parent_span_id is None
                        else f"{r.parent_span_id:016x}",
                        "start_time": r.start_time,
                        "end_time": r.end_time,
                        "status": r.status,
                        "status_description": r.status_description,
                        "attributes": {k: _plain(v) for k, v in r.attributes.items()},
                        "events": list(r.events),
                        "links": [[f"{t:032x}", f"{s:016x}"] for t, s in r.links],
                        "resource": {k: _plain(v) for k, v in r.resource.items()},
                        "scope": r.scope,
                    }
                )
            )
        data = ("\n".join(lines) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def read_spans(path: str | os.PathLike[str]) -> list[SpanRecord]:
    """The spans a :class:`JsonLinesSpanExporter` wrote (missing file: none)."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        out.append(
            SpanRecord(
                name=d["name"],
                kind=d["kind"],
                trace_id=int(d["trace_id"], 16),
                span_id=int(d["span_id"], 16),
                parent_span_id=None
                if d["parent_span_id"] is None
                else int(d["parent_span_id"], 16),
                start_time=d["start_time"],
                end_time=d["end_time"],
                status=d["status"],
                status_description=d.get("status_description"),
                attributes=d["attributes"],
                events=tuple(d["events"]),
                links=tuple((int(t, 16), int(s, 16)) for t, s in d.get("links", [])),
                resource=d.get("resource", {}),
                scope=d.get("scope", ""),
            )
        )
    return out


def install_jsonl_export(path: str | os.PathLike[str], service_name: str = "spanwise-test") -> None:
    """Configure this process's global tracer provider to write finished spans to *path*.

    For test servers started in another process (gunicorn, uvicorn): call it when the app
    module is imported. Spans are written synchronously, so none is lost when a worker exits.
    """
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name, "process.pid": os.getpid()})
    )
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    trace.set_tracer_provider(provider)
