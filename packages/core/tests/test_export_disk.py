"""DiskBufferedSpanExporter and its OTLP protobuf encoding: order, bounds, restarts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from spanwise.core.export import BufferStats, DiskBufferedSpanExporter, decode_spans, encode_spans


class Backend(SpanExporter):
    """A backend stand-in that can be switched down; records the span names it accepted."""

    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.batches: list[list[str]] = []
        self.attempts = 0
        self.lock = threading.Lock()
        self.shut_down = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.lock:
            self.attempts += 1
            if not self.up:
                return SpanExportResult.FAILURE
            self.batches.append([s.name for s in spans])
            return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut_down = True

    @property
    def names(self) -> list[str]:
        with self.lock:
            return [n for b in self.batches for n in b]


class Raising(Backend):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.up:
            raise ConnectionError("backend gone")
        return super().export(spans)


_counter = iter(range(10**9))


def batch(n: int = 3, prefix: str = "s") -> list[ReadableSpan]:
    """n finished spans named prefix-<global sequence>."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for _ in range(n):
        with tracer.start_as_current_span(f"{prefix}-{next(_counter)}"):
            pass
    return list(memory.get_finished_spans())


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def exporters() -> Iterator[list[DiskBufferedSpanExporter]]:
    made: list[DiskBufferedSpanExporter] = []
    yield made
    for e in made:
        e.shutdown(2000)


def make(
    made: list[DiskBufferedSpanExporter], backend: SpanExporter, directory: Path, **kwargs: object
) -> DiskBufferedSpanExporter:
    kwargs.setdefault("retry_initial_delay", 0.05)
    kwargs.setdefault("retry_max_delay", 0.2)
    exporter = DiskBufferedSpanExporter(backend, directory, **kwargs)  # type: ignore[arg-type]
    made.append(exporter)
    return exporter


def rich_spans() -> list[ReadableSpan]:
    """Spans using every field the OTLP encoder writes."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource({"service.name": "svc", "n": 3}, "https://opentelemetry.io/schemas/1.30"),
        span_limits=SpanLimits(max_span_attributes=6, max_events=2, max_links=1,
                               max_event_attributes=1, max_link_attributes=1),
    )  # fmt: skip
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("lib", "1.2.3", "https://schema", {"scope.attr": "x"})
    other = provider.get_tracer("other")
    remote = SpanContext(
        0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "v1"), ("k", "v")]),
    )  # fmt: skip
    link_ctx = SpanContext(0xABC, 0xDEF, is_remote=True)
    parent_ctx = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    with tracer.start_as_current_span(
        "server", context=parent_ctx, kind=SpanKind.SERVER,
        links=[Link(link_ctx, {"a": 1, "b": 2}), Link(link_ctx)],
    ) as span:  # fmt: skip
        span.set_attributes({"s": "x", "b": True, "i": 7, "f": 1.5, "arr": [1, 2], "sarr": ["a"]})
        span.set_attribute("over", "limit")
        span.add_event("e1", {"k": "v", "k2": "v2"}, timestamp=123)
        span.add_event("e2")
        span.add_event("e3")
        span.set_status(Status(StatusCode.ERROR, "broken"))
        with other.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.OK))
        for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL):
            with tracer.start_as_current_span(kind.name, kind=kind):
                pass
    return list(memory.get_finished_spans())


class TestEncoding:
    def test_round_trip_is_exact(self) -> None:
        """Decoding then re-encoding gives the same bytes, for every field OTLP writes."""
        data = encode_spans(rich_spans())
        assert data == encode_spans(decode_spans(data))

    def test_decoded_fields(self) -> None:
        """Decoded spans carry identity, parentage, status, counts, resource and scope."""
        original = {s.name: s for s in rich_spans()}
        decoded = {s.name: s for s in decode_spans(encode_spans(list(original.values())))}
        assert sorted(original) == sorted(decoded)
        server, back = original["server"], decoded["server"]
        assert server.context.span_id == back.context.span_id
        assert server.context.trace_id == back.context.trace_id
        assert "v1" == back.context.trace_state.get("vendor")
        assert back.parent is not None
        assert back.parent.is_remote
        assert 0x5678 == back.parent.span_id
        assert StatusCode.ERROR == back.status.status_code
        assert "broken" == back.status.description
        assert SpanKind.SERVER == back.kind
        assert (1, 1, 1) == (back.dropped_attributes, back.dropped_events, back.dropped_links)
        assert (server.start_time, server.end_time) == (back.start_time, back.end_time)
        assert "svc" == back.resource.attributes["service.name"]
        assert back.instrumentation_scope is not None
        assert ("lib", "1.2.3") == (
            back.instrumentation_scope.name, back.instrumentation_scope.version,
        )  # fmt: skip
        assert dict(server.attributes or {}) == dict(back.attributes or {})
        assert decoded["child"].parent is not None
        assert not decoded["child"].parent.is_remote

    def test_garbage_raises_on_decode(self) -> None:
        """Bytes that are not a trace request do not decode silently."""
        from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

        with pytest.raises(DecodeError):
            decode_spans(b"\xff\xff\xff\xff garbage")


class TestHealthyBackend:
    def test_export_returns_at_once_and_delivers_in_order(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """Batches reach the backend in export order; nothing touches the disk."""
        backend = Backend()
        exporter = make(exporters, backend, tmp_path)
        batches = [batch(2) for _ in range(20)]
        for b in batches:
            assert SpanExportResult.SUCCESS == exporter.export(b)
        assert exporter.force_flush(10_000)
        assert [s.name for b in batches for s in b] == backend.names
        assert [] == files(tmp_path)
        assert BufferStats(40, 0, 0, 0, 0) == exporter.stats()

    def test_empty_batch(self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]) -> None:
        """An empty batch is a no-op success."""
        backend = Backend()
        exporter = make(exporters, backend, tmp_path)
        assert SpanExportResult.SUCCESS == exporter.export([])
        assert exporter.force_flush(1000)
        assert 0 == backend.attempts


class TestOutage:
    def test_buffers_then_replays_in_order(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """While down, batches go to disk; once up, every span arrives once, in order."""
        backend = Backend(up=False)
        exporter = make(exporters, backend, tmp_path)
        batches = [batch(3) for _ in range(10)]
        for b in batches:
            assert SpanExportResult.SUCCESS == exporter.export(b)
        assert not exporter.force_flush(300)
        assert 30 == exporter.stats().spans_buffered
        assert all(name.endswith(".otlp") for name in files(tmp_path))
        backend.up = True
        assert exporter.force_flush(10_000)
        assert [s.name for b in batches for s in b] == backend.names
        assert [] == files(tmp_path)
        stats = exporter.stats()
        assert (30, 0, 0, 0) == (stats.spans_sent, stats.spans_buffered, stats.spans_dropped,
                                 stats.bytes_on_disk)  # fmt: skip

    def test_raising_exporter_is_an_outage(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """An exporter that raises is treated like a failed export, never propagated."""
        backend = Raising(up=False)
        exporter = make(exporters, backend, tmp_path)
        first = batch(2)
        assert SpanExportResult.SUCCESS == exporter.export(first)
        assert not exporter.force_flush(200)
        backend.up = True
        assert exporter.force_flush(10_000)
        assert [s.name for s in first] == backend.names

    def test_recovers_without_flush(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """The sender retries on its own with backoff; no flush is needed to drain."""
        backend = Backend(up=False)
        exporter = make(exporters, backend, tmp_path)
        exporter.export(batch(2))
        deadline = time.monotonic() + 5
        while backend.attempts < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        backend.up = True
        while exporter.stats().spans_sent < 2 and time.monotonic() < deadline + 5:
            time.sleep(0.02)
        assert 2 == exporter.stats().spans_sent
        assert 2 == len(backend.names)


class TestBound:
    def test_oldest_dropped_and_counted(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter],
        caplog: pytest.LogCaptureFixture,
    ) -> None:  # fmt: skip
        """With a tiny cap the oldest files go first; every lost span is counted; one warning."""
        size = len(encode_spans(batch(5)))
        backend = Backend(up=False)
        exporter = make(exporters, backend, tmp_path, max_bytes=int(size * 3.5))
        batches = [batch(5) for _ in range(10)]
        with caplog.at_level(logging.WARNING, logger="spanwise.core.export._disk"):
            for b in batches:
                exporter.export(b)
            assert not exporter.force_flush(200)
        stats = exporter.stats()
        assert stats.bytes_on_disk <= size * 3.5
        assert 1 == sum("dropped" in r.getMessage() for r in caplog.records)
        backend.up = True
        assert exporter.force_flush(10_000)
        sent = [s.name for b in batches for s in b]
        received = backend.names
        assert received == sent[len(sent) - len(received) :]  # the newest survive, in order
        assert len(sent) == len(received) + exporter.stats().spans_dropped
        assert exporter.stats().spans_dropped >= 30

    def test_batch_bigger_than_cap(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """A single batch that cannot fit is dropped and counted; the call still returns."""
        backend = Backend(up=False)
        exporter = make(exporters, backend, tmp_path, max_bytes=64)
        assert SpanExportResult.SUCCESS == exporter.export(batch(1))  # held in memory first
        assert exporter.force_flush(2000)  # the send fails, and it cannot be kept either
        assert 1 == exporter.stats().spans_dropped
        assert SpanExportResult.FAILURE == exporter.export(batch(50))
        assert 51 == exporter.stats().spans_dropped
        assert [] == files(tmp_path)

    def test_memory_holds_a_bounded_number_of_batches(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """Beyond max_memory_batches waiting, batches go to disk even while healthy."""
        gate = threading.Event()

        class Slow(Backend):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                gate.wait(10)
                return super().export(spans)

        backend = Slow()
        exporter = make(exporters, backend, tmp_path, max_memory_batches=2)
        batches = [batch(1) for _ in range(6)]
        for b in batches:
            exporter.export(b)
        assert exporter.stats().batches_on_disk >= 3
        gate.set()
        assert exporter.force_flush(10_000)
        assert [s.name for b in batches for s in b] == backend.names


class TestDirectory:
    def test_half_written_files_are_never_replayed(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """A temporary file left by a crash mid-write is deleted at start, not sent."""
        data = encode_spans(batch(2))
        (tmp_path / ".00000000000000000001-2.otlp.tmp").write_bytes(data[: len(data) // 2])
        backend = Backend()
        exporter = make(exporters, backend, tmp_path)
        assert exporter.force_flush(2000)
        assert [] == backend.names
        assert [] == files(tmp_path)

    def test_unreadable_file_dropped_and_counted(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """A corrupt batch file is removed and its spans counted as dropped; later ones flow."""
        (tmp_path / "00000000000000000001-4.otlp").write_bytes(b"\xff\xff\xff\xffnot protobuf")
        (tmp_path / "unrelated.txt").write_text("kept")
        backend = Backend()
        exporter = make(exporters, backend, tmp_path)
        later = batch(1)
        exporter.export(later)
        assert exporter.force_flush(5000)
        assert [later[0].name] == backend.names
        assert 4 == exporter.stats().spans_dropped
        assert ["unrelated.txt"] == files(tmp_path)

    def test_survives_restart(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """Batches buffered by one exporter are delivered, first and in order, by the next."""
        first = make(exporters, Backend(up=False), tmp_path)
        old = [batch(2) for _ in range(3)]
        for b in old:
            first.export(b)
        first.shutdown(1000)
        assert 3 == len(files(tmp_path))
        backend = Backend()
        second = make(exporters, backend, tmp_path)
        new = batch(2)
        second.export(new)
        assert second.force_flush(10_000)
        assert [s.name for b in [*old, new] for s in b] == backend.names
        assert [] == files(tmp_path)

    def test_cap_applied_to_leftovers(
        self, tmp_path: Path, exporters: list[DiskBufferedSpanExporter]
    ) -> None:
        """Files left over beyond a (smaller) new cap are trimmed oldest first, counted."""
        first = make(exporters, Backend(up=False), tmp_path)
        old = [batch(2) for _ in range(4)]
        for b in old:
            first.export(b)
        first.shutdown(1000)
        size = max(p.stat().st_size for p in tmp_path.iterdir())
        backend = Backend()
        second = make(exporters, backend, tmp_path, max_bytes=size * 2)
        assert second.force_flush(10_000)
        assert 4 == second.stats().spans_dropped
        assert [s.name for b in old[2:] for s in b] == backend.names


class TestShutdown:
    def test_healthy_shutdown_sends_what_is_queued(self, tmp_path: Path) -> None:
        """shutdown() delivers batches still in memory, then shuts the wrapped exporter."""
        backend = Backend()
        exporter = DiskBufferedSpanExporter(backend, tmp_path)
        b = batch(3)
        exporter.export(b)
        exporter.shutdown()
        assert [s.name for s in b] == backend.names
        assert backend.shut_down
        assert [] == files(tmp_path)

    def test_down_shutdown_keeps_everything_on_disk(self, tmp_path: Path) -> None:
        """shutdown() during an outage writes what is in memory to disk for the next process."""
        backend = Backend(up=False)
        exporter = DiskBufferedSpanExporter(backend, tmp_path, retry_initial_delay=60)
        exporter.export(batch(3))
        deadline = time.monotonic() + 5
        while backend.attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        exporter.export(batch(2))
        exporter.shutdown()
        assert 5 == exporter.stats().spans_buffered
        assert 2 == len(files(tmp_path))

    def test_export_after_shutdown(self, tmp_path: Path) -> None:
        """After shutdown, export fails and writes nothing."""
        exporter = DiskBufferedSpanExporter(Backend(), tmp_path)
        exporter.shutdown()
        exporter.shutdown()
        assert SpanExportResult.FAILURE == exporter.export(batch(1))
        assert [] == files(tmp_path)

    def test_rejects_bad_settings(self, tmp_path: Path) -> None:
        """A non-positive bound is refused."""
        with pytest.raises(ValueError):
            DiskBufferedSpanExporter(Backend(), tmp_path, max_bytes=0)
