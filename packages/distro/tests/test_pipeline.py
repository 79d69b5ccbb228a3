"""The span pipeline: exporter chains, per-process disk buffers, fork-safe tail sampling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry import context
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from spanwise.core.export import DiskBufferedSpanExporter, RetryingSpanExporter
from spanwise.core.sampling import TailSamplingSpanProcessor
from spanwise.distro import OtlpSettings, Settings, load_settings
from spanwise.distro._pipeline import (
    ForkSafeSpanProcessor,
    SuppressedSpanExporter,
    adopt_orphaned_buffers,
    otlp_span_exporter,
    process_buffer_directory,
    tail_sampling_processor,
)

HTTP = OtlpSettings("http://127.0.0.1:9/v1/traces", "http/protobuf", {}, 1.0)
GRPC = OtlpSettings("http://127.0.0.1:9", "grpc", {}, 1.0)


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True, timeout=30)  # fmt: skip
    return int(proc.stdout)


class TestOtlpSpanExporter:
    def test_retry_on_by_default_for_http(self) -> None:
        """With the distro's settings, OTLP/HTTP is wrapped by the retrying exporter with the
        configured backoff, honouring Retry-After through its requests session."""
        settings = load_settings({"SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS": "3"})
        exporter = otlp_span_exporter(HTTP, settings)
        try:
            assert isinstance(exporter, RetryingSpanExporter)
            assert (True, 3, HTTP.endpoint) == (
                isinstance(exporter.exporter, HttpSpanExporter),
                exporter.max_attempts,
                exporter.exporter._endpoint,  # type: ignore[attr-defined]
            )
        finally:
            exporter.shutdown()

    def test_retry_wraps_grpc(self) -> None:
        """OTLP/gRPC is wrapped directly."""
        exporter = otlp_span_exporter(GRPC, load_settings({}))
        try:
            assert isinstance(exporter, RetryingSpanExporter)
            assert isinstance(exporter.exporter, GrpcSpanExporter)
        finally:
            exporter.shutdown()

    @pytest.mark.parametrize("settings", [None, load_settings({"SPANWISE_EXPORT_RETRY": "false"})])
    def test_plain_without_retry(self, settings: Settings | None) -> None:
        """No settings, or SPANWISE_EXPORT_RETRY=false: the plain OTLP exporter."""
        exporter = otlp_span_exporter(HTTP, settings)
        plain = isinstance(exporter, HttpSpanExporter)
        exporter.shutdown()
        assert plain

    def test_disk_buffer_per_process(self, tmp_path: Path) -> None:
        """SPANWISE_EXPORT_BUFFER_DIR puts a disk buffer (in <dir>/<pid>, with the size cap)
        in front of the retrying exporter, which it calls with instrumentation suppressed."""
        settings = load_settings(
            {
                "SPANWISE_EXPORT_BUFFER_DIR": str(tmp_path),
                "SPANWISE_EXPORT_BUFFER_MAX_BYTES": "100000",
            }
        )
        exporter = otlp_span_exporter(HTTP, settings)
        assert isinstance(exporter, DiskBufferedSpanExporter)
        try:
            assert (tmp_path / str(os.getpid()), 100000, True) == (
                exporter.directory,
                exporter.max_bytes,
                isinstance(exporter.exporter.exporter, RetryingSpanExporter),  # type: ignore[attr-defined]
            )
        finally:
            exporter.shutdown(timeout_millis=100)

    def test_unusable_buffer_dir_exports_without_it(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A buffer directory that cannot be made: a warning, and export goes on unbuffered."""
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        settings = load_settings({"SPANWISE_EXPORT_BUFFER_DIR": str(blocker / "spans")})
        exporter = otlp_span_exporter(HTTP, settings)
        try:
            assert isinstance(exporter, RetryingSpanExporter)
            assert 1 == sum("cannot be used" in r.getMessage() for r in caplog.records)
        finally:
            exporter.shutdown()


class TestBufferDirectories:
    def test_dead_process_batches_adopted(self, tmp_path: Path) -> None:
        """Complete batches of a dead process move into ours (names kept, so order is kept),
        its half-written file is deleted and its directory removed."""
        dead = tmp_path / str(dead_pid())
        dead.mkdir()
        (dead / "00000000000000000001-5.otlp").write_bytes(b"a")
        (dead / "00000000000000000002-5.otlp").write_bytes(b"b")
        (dead / "00000000000000000003-5.otlp.tmp").write_bytes(b"half")
        own = process_buffer_directory(str(tmp_path))
        assert (tmp_path / str(os.getpid()), False) == (own, dead.exists())
        assert ["00000000000000000001-5.otlp", "00000000000000000002-5.otlp"] == sorted(
            p.name for p in own.iterdir()
        )

    def test_live_and_foreign_directories_left_alone(self, tmp_path: Path) -> None:
        """A live process's directory (the parent's) and non-pid names are not touched."""
        live = tmp_path / str(os.getppid())
        live.mkdir()
        (live / "00000000000000000001-1.otlp").write_bytes(b"x")
        other = tmp_path / "notes"
        other.mkdir()
        own = tmp_path / str(os.getpid())
        own.mkdir()
        assert (0, ["00000000000000000001-1.otlp"], []) == (
            adopt_orphaned_buffers(tmp_path, own),
            [p.name for p in live.iterdir()],
            list(own.iterdir()),
        )


def trace_of(provider: TracerProvider, name: str, error: bool) -> None:
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span(name) as root:
        tracer.start_span(name + ".child").end()
        if error:
            root.set_status(Status(StatusCode.ERROR, "boom"))


ERRORS_ONLY = (
    "{decision_wait: 1h, policies: "
    "[{name: e, type: status_code, status_code: {status_codes: [ERROR]}}]}"
)


class TestTailSamplingProcessor:
    def test_keeps_error_traces_for_every_exporter(self) -> None:
        """One tail sampler in front of every exporter's processor: each gets the whole
        error trace and nothing of the plain one."""
        settings = load_settings({"SPANWISE_TAIL_SAMPLING_POLICIES": ERRORS_ONLY})
        sinks = [InMemorySpanExporter(), InMemorySpanExporter()]
        processor = tail_sampling_processor(settings, [SimpleSpanProcessor(s) for s in sinks])
        provider = TracerProvider()
        provider.add_span_processor(processor)
        trace_of(provider, "plain", error=False)
        trace_of(provider, "failed", error=True)
        provider.force_flush()
        got = [sorted(s.name for s in sink.get_finished_spans()) for sink in sinks]
        provider.shutdown()
        assert [["failed", "failed.child"]] * 2 == got
        assert isinstance(processor.inner, TailSamplingSpanProcessor)

    def test_rebuilt_in_forked_child(self) -> None:
        """After fork() the child builds its own processor (the parent's has no thread there)
        and the parent keeps its own."""
        script = textwrap.dedent(
            """
            import json, os, threading
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
            from spanwise.distro._pipeline import ForkSafeSpanProcessor
            built = []
            sink = InMemorySpanExporter()
            def factory():
                built.append(os.getpid())
                return SimpleSpanProcessor(sink)
            processor = ForkSafeSpanProcessor(factory)
            provider = TracerProvider()
            provider.add_span_processor(processor)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                provider.get_tracer("t").start_span("in-child").end()
                os.write(write, json.dumps([built, [s.name for s in sink.get_finished_spans()],
                                            os.getpid()]).encode())
                os._exit(0)
            os.waitpid(pid, 0)
            child = json.loads(os.read(read, 65536))
            provider.get_tracer("t").start_span("in-parent").end()
            print(json.dumps({"child": child, "parent": built, "me": os.getpid()}))
            """
        )
        proc = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert 0 == proc.returncode, proc.stderr
        out = json.loads(proc.stdout)
        me, (child_built, child_spans, child_pid) = out["me"], out["child"]
        assert ([me, child_pid], ["in-child"], [me]) == (child_built, child_spans, out["parent"])

    def test_shutdown_before_use_in_child_builds_nothing(self) -> None:
        """Flush and shutdown of a processor whose process never used it are no-ops."""
        processor = ForkSafeSpanProcessor(lambda: SimpleSpanProcessor(InMemorySpanExporter()))
        processor._inner = None  # as right after a fork
        processor.shutdown()
        assert (True, None) == (processor.force_flush(), processor._inner)


class Recording(SpanExporter):
    def __init__(self) -> None:
        self.suppressed: list[object] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.suppressed.append(context.get_value(context._SUPPRESS_INSTRUMENTATION_KEY))
        return SpanExportResult.SUCCESS


class TestSuppressedSpanExporter:
    def test_export_runs_with_instrumentation_suppressed(self) -> None:
        """The wrapped export sees instrumentation suppressed (so the disk buffer's thread
        does not trace its own HTTP calls); the caller's context is restored."""
        inner = Recording()
        result = SuppressedSpanExporter(inner).export([])
        after = context.get_value(context._SUPPRESS_INSTRUMENTATION_KEY)
        assert (SpanExportResult.SUCCESS, [True], None) == (result, inner.suppressed, after)
