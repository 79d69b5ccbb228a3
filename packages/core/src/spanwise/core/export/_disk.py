"""A span exporter that keeps batches on disk while the backend is unreachable."""

from __future__ import annotations

import bisect
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

if TYPE_CHECKING:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["BufferStats", "DiskBufferedSpanExporter", "decode_spans", "encode_spans"]

_SUPPRESS_KEY = getattr(context, "_SUPPRESS_INSTRUMENTATION_KEY", "suppress_instrumentation")
_log = logging.getLogger(__name__)

_SUFFIX = ".otlp"
_TMP_SUFFIX = ".tmp"
_IS_REMOTE_MASK = 0x200  # SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_KINDS = {
    1: SpanKind.INTERNAL,
    2: SpanKind.SERVER,
    3: SpanKind.CLIENT,
    4: SpanKind.PRODUCER,
    5: SpanKind.CONSUMER,
}


# -- encoding: OTLP protobuf (ExportTraceServiceRequest) both ways ----------------------------


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """Spans as the bytes of an OTLP ``ExportTraceServiceRequest``.

    .. versionadded:: 0.1.0
    """
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as encode

    data: bytes = encode(spans).SerializeToString()
    return data


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(_value(x) for x in v.array_value.values)
    if kind == "kvlist_value":
        return _attributes(v.kvlist_value.values)
    return getattr(v, kind)


def _attributes(kvs: Sequence[KeyValue]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def _bounded(attributes: dict[str, Any], dropped: int) -> Any:
    if not dropped:
        return attributes
    from opentelemetry.attributes import BoundedAttributes

    bounded = BoundedAttributes(maxlen=None, attributes=attributes, immutable=True)
    bounded.dropped = dropped
    return bounded


def _bounded_list(items: list[Any], dropped: int) -> Any:
    if not dropped:
        return items
    bounded: BoundedList[Any] = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded


def decode_spans(data: bytes) -> list[ReadableSpan]:
    """The spans of an OTLP ``ExportTraceServiceRequest``, as SDK ``ReadableSpan`` objects.

    ``encode_spans(decode_spans(b)) == b`` for any ``b`` made by :func:`encode_spans`: every
    field the OTLP encoder writes is read back (trace flags are not encoded by OTLP; a decoded
    span is marked sampled, as every exported span is).

    .. versionadded:: 0.1.0
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    request.ParseFromString(data)
    out: list[ReadableSpan] = []
    for rs in request.resource_spans:
        resource = Resource(_attributes(rs.resource.attributes), rs.schema_url or None)
        for ss in rs.scope_spans:
            scope = None
            if ss.HasField("scope"):
                scope = InstrumentationScope(
                    ss.scope.name,
                    ss.scope.version or None,
                    ss.schema_url or None,
                    _attributes(ss.scope.attributes) or None,
                )
            for s in ss.spans:
                trace_id = int.from_bytes(s.trace_id, "big")
                context = SpanContext(
                    trace_id,
                    int.from_bytes(s.span_id, "big"),
                    is_remote=False,
                    trace_flags=TraceFlags(TraceFlags.SAMPLED),
                    trace_state=TraceState.from_header([s.trace_state]) if s.trace_state else None,
                )
                parent = None
                if s.parent_span_id:
                    parent = SpanContext(
                        trace_id,
                        int.from_bytes(s.parent_span_id, "big"),
                        is_remote=bool(s.flags & _IS_REMOTE_MASK),
                    )
                events = [
                    Event(e.name, _bounded(_attributes(e.attributes), e.dropped_attributes_count),
                          e.time_unix_nano)
                    for e in s.events
                ]  # fmt: skip
                links = [
                    Link(
                        SpanContext(
                            int.from_bytes(link.trace_id, "big"),
                            int.from_bytes(link.span_id, "big"),
                            is_remote=bool(link.flags & _IS_REMOTE_MASK),
                        ),
                        _bounded(_attributes(link.attributes), link.dropped_attributes_count),
                    )
                    for link in s.links
                ]
                status = Status(StatusCode(s.status.code), s.status.message or None)
                out.append(
                    ReadableSpan(
                        name=s.name,
                        context=context,
                        parent=parent,
                        resource=resource,
                        attributes=_bounded(_attributes(s.attributes), s.dropped_attributes_count),
                        events=_bounded_list(events, s.dropped_events_count),
                        links=_bounded_list(links, s.dropped_links_count),
                        kind=_KINDS.get(s.kind, SpanKind.INTERNAL),
                        status=status,
                        start_time=s.start_time_unix_nano,
                        end_time=s.end_time_unix_nano,
                        instrumentation_scope=scope,
                    )
                )
    return out


# -- the exporter ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BufferStats:
    """What a :class:`DiskBufferedSpanExporter` has done so far.

    ``spans_sent``: accepted by the wrapped exporter (directly or replayed from disk);
    ``spans_buffered``: on disk now, waiting; ``spans_dropped``: lost on purpose and counted
    (the oldest files removed to respect ``max_bytes``, a batch bigger than ``max_bytes``, a
    file that could not be written or read back).
    """

    spans_sent: int
    spans_buffered: int
    spans_dropped: int
    batches_on_disk: int
    bytes_on_disk: int


@dataclass(eq=False)
class _Batch:
    seq: int
    count: int
    spans: Sequence[ReadableSpan] | None = None  # in memory
    path: Path | None = None  # on disk
    size: int = 0


def _name(seq: int, count: int) -> str:
    return f"{seq:020d}-{count}{_SUFFIX}"


class DiskBufferedSpanExporter(SpanExporter):
    """Send batches in order from a background thread; keep them on disk while the backend fails.

    :meth:`export` never waits for the network: it hands the batch to this exporter's own sender
    thread (at most ``max_memory_batches`` are held in memory) and returns ``SUCCESS``. The
    sender passes batches to the wrapped ``exporter`` oldest first. When a send fails, that batch
    and every batch held in memory are written to ``directory``, and new batches go straight to
    disk until a send succeeds again; the sender retries the oldest file with exponential backoff
    (``retry_initial_delay`` doubling up to ``retry_max_delay``, with jitter; :meth:`force_flush`
    cuts a wait short).

    On disk each batch is one file holding an OTLP ``ExportTraceServiceRequest`` (protobuf),
    named by a sequence number that orders it among all batches (so replay keeps the order the
    spans were exported in). A file is written under a temporary name, fsynced, and renamed when
    complete: a half-written batch is never replayed (leftover temporary files are deleted at
    start). The directory never holds more than ``max_bytes``: the oldest files go first, and
    their spans are counted as dropped (:meth:`stats`, a warning the first time). Files left by an
    earlier process are replayed first, so buffered spans survive a restart; replay decodes each
    file back into SDK spans (:func:`decode_spans`) and hands them to the wrapped exporter, so any
    exporter works. Use one directory per process.

    Delivery is at least once: a crash between the backend's acknowledgement and the file's
    removal replays that batch once more in the next process.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        exporter: SpanExporter,
        directory: str | os.PathLike[str],
        max_bytes: int = 64 * 1024 * 1024,
        *,
        max_memory_batches: int = 8,
        retry_initial_delay: float = 1.0,
        retry_max_delay: float = 30.0,
        fsync: bool = True,
    ) -> None:
        # Fail early, not in the sender, when the OTLP protobuf packages are missing.
        import opentelemetry.exporter.otlp.proto.common.trace_encoder  # noqa: F401, RUF100
        import opentelemetry.proto.collector.trace.v1.trace_service_pb2  # noqa: F401

        if max_bytes <= 0 or max_memory_batches <= 0:
            raise ValueError("max_bytes and max_memory_batches must be positive")
        self.exporter = exporter
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_memory_batches = max_memory_batches
        self.retry_initial_delay = retry_initial_delay
        self.retry_max_delay = retry_max_delay
        self._fsync = fsync
        self._cv = threading.Condition(threading.Lock())
        self._export_lock = threading.Lock()
        self._spill_lock = threading.Lock()
        self._memory: deque[_Batch] = deque()
        self._disk: list[_Batch] = []  # sorted by seq
        self._disk_bytes = 0
        self._inflight: _Batch | None = None
        self._down = False
        self._closed = False
        self._stopping = False
        self._flush_requested = False
        self._sent = 0
        self._dropped = 0
        self._warned_drop = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq = max(self._load(), time.time_ns())
        self._thread = threading.Thread(
            target=self._run, name="spanwise-disk-buffered-exporter", daemon=True
        )
        self._thread.start()

    # -- start-up --------------------------------------------------------------------------

    def _load(self) -> int:
        """Index the complete files an earlier process left; delete half-written ones."""
        last = 0
        for path in self.directory.iterdir():
            if path.name.endswith(_TMP_SUFFIX):
                path.unlink(missing_ok=True)
                continue
            if not path.name.endswith(_SUFFIX):
                continue
            try:
                seq_text, count_text = path.name[: -len(_SUFFIX)].split("-")
                batch = _Batch(int(seq_text), int(count_text), path=path, size=path.stat().st_size)
            except (ValueError, OSError):
                continue
            self._disk.append(batch)
            self._disk_bytes += batch.size
            last = max(last, batch.seq)
        self._disk.sort(key=lambda b: b.seq)
        while self._disk_bytes > self.max_bytes and self._disk:
            self._drop(self._disk[0])
        return last + 1

    # -- SpanExporter -----------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Queue the batch for the sender (memory, or disk while the backend fails)."""
        if not spans:
            return SpanExportResult.SUCCESS
        with self._export_lock:
            with self._cv:
                if self._closed:
                    return SpanExportResult.FAILURE
                self._seq += 1
                batch = _Batch(self._seq, len(spans), spans=list(spans))
                if not self._down and len(self._memory) < self.max_memory_batches:
                    self._memory.append(batch)
                    self._cv.notify_all()
                    return SpanExportResult.SUCCESS
            return SpanExportResult.SUCCESS if self._spool(batch) else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Send everything exported so far now (skipping a backoff wait); False on timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cv:
            target = self._seq
            self._flush_requested = True
            self._cv.notify_all()
            while not self._stopping:
                pending = self._oldest()
                if pending is None or pending.seq > target:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.5))
                self._flush_requested = True
            return False

    def shutdown(self, timeout_millis: int = 10000) -> None:
        """Send what is in memory within the timeout, keep the rest on disk, stop the sender."""
        with self._cv:
            if self._closed:
                return
            self._closed = True
            down = self._down
        if not down:
            self.force_flush(timeout_millis // 2)
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self.exporter.shutdown()  # interrupts a retrying exporter's waits
        self._thread.join(max(timeout_millis / 2000, 0.1))
        self._spill()  # what is left in memory: the next process sends it

    def stats(self) -> BufferStats:
        """Counts so far."""
        with self._cv:
            return BufferStats(
                self._sent,
                sum(b.count for b in self._disk),
                self._dropped,
                len(self._disk),
                self._disk_bytes,
            )

    # -- disk --------------------------------------------------------------------------------

    def _spool(self, batch: _Batch) -> bool:
        """Write an in-memory batch to disk (within ``max_bytes``); False if it was dropped."""
        assert batch.spans is not None
        try:
            data = encode_spans(batch.spans)
        except Exception:  # noqa: BLE001
            _log.warning("could not encode a batch of %d spans", batch.count, exc_info=True)
            self._count_dropped(batch.count)
            return False
        with self._cv:
            while self._disk_bytes + len(data) > self.max_bytes:
                victim = next((b for b in self._disk if b is not self._inflight), None)
                if victim is None:
                    break
                self._drop(victim)
            if self._disk_bytes + len(data) > self.max_bytes:
                self._count_dropped(batch.count)
                return False
            self._disk_bytes += len(data)  # reserved while writing
        path = self.directory / _name(batch.seq, batch.count)
        tmp = path.with_name("." + path.name + _TMP_SUFFIX)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                if self._fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            _log.warning("could not write a batch to %s", self.directory, exc_info=True)
            tmp.unlink(missing_ok=True)
            with self._cv:
                self._disk_bytes -= len(data)
            self._count_dropped(batch.count)
            return False
        on_disk = _Batch(batch.seq, batch.count, path=path, size=len(data))
        with self._cv:
            bisect.insort(self._disk, on_disk, key=lambda b: b.seq)
        return True

    def _drop(self, batch: _Batch) -> None:
        """Remove a file to make room (caller holds the lock)."""
        self._disk.remove(batch)
        self._disk_bytes -= batch.size
        if batch.path is not None:
            batch.path.unlink(missing_ok=True)
        self._count_dropped(batch.count)

    def _count_dropped(self, count: int) -> None:
        self._dropped += count
        if not self._warned_drop:
            self._warned_drop = True
            _log.warning(
                "dropped %d spans to keep %s under %d bytes (counted in stats(); "
                "further drops are not logged)",
                count,
                self.directory,
                self.max_bytes,
            )

    # -- the sender ---------------------------------------------------------------------------

    def _oldest(self) -> _Batch | None:
        memory = self._memory[0] if self._memory else None
        disk = self._disk[0] if self._disk else None
        if memory is None or (disk is not None and disk.seq < memory.seq):
            return disk
        return memory

    def _run(self) -> None:
        # This thread sends telemetry: nothing it does may be traced. An instrumented HTTP client
        # (our requests plugin under OTLP/HTTP) would otherwise trace every export, and those
        # spans would be exported in turn. The SDK's batch worker does the same.
        context.attach(context.set_value(_SUPPRESS_KEY, True))
        delay = 0.0
        while True:
            with self._cv:
                batch = self._oldest()
                while batch is None and not self._stopping:
                    self._cv.wait()
                    batch = self._oldest()
                if self._stopping or batch is None:
                    return
                self._inflight = batch
                self._flush_requested = False
            try:
                ok = self._send(batch)
            except Exception:  # noqa: BLE001
                _log.warning("the disk-buffered sender failed", exc_info=True)
                ok = False
            if ok:
                delay = 0.0
                continue
            self._spill()
            delay = min(self.retry_max_delay, max(self.retry_initial_delay, delay * 2))
            wait = delay * random.uniform(0.5, 1.0)
            with self._cv:
                self._cv.wait_for(lambda: self._stopping or self._flush_requested, wait)

    def _send(self, batch: _Batch) -> bool:
        spans = batch.spans
        if spans is None:
            assert batch.path is not None
            try:
                spans = decode_spans(batch.path.read_bytes())
            except Exception:  # noqa: BLE001
                _log.warning("unreadable batch %s dropped", batch.path, exc_info=True)
                with self._cv:
                    self._inflight = None
                    self._drop(batch)
                return True
        try:
            result = self.exporter.export(spans)
        except Exception:  # noqa: BLE001
            _log.debug("export raised", exc_info=True)
            result = SpanExportResult.FAILURE
        with self._cv:
            self._inflight = None
            if result is not SpanExportResult.SUCCESS:
                self._down = True
                return False
            self._down = False
            self._sent += batch.count
            if batch.path is None:
                self._memory.remove(batch)
            else:
                self._disk.remove(batch)
                self._disk_bytes -= batch.size
                batch.path.unlink(missing_ok=True)
            self._cv.notify_all()
        return True

    def _spill(self) -> None:
        """Move every batch held in memory (but one being sent) to disk, oldest first."""
        with self._spill_lock:
            while True:
                with self._cv:
                    batch = next((b for b in self._memory if b is not self._inflight), None)
                if batch is None:
                    return
                self._spool(batch)  # a batch it cannot keep is counted as dropped
                with self._cv:
                    self._memory.remove(batch)
                    self._cv.notify_all()
