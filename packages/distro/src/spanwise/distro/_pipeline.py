"""The production span pipeline: retrying and disk-buffered OTLP export, in-process tail sampling.

Both pieces own threads (the disk buffer's sender, the tail sampler's decision loop) and the
disk buffer owns a directory; none of that may be shared by a parent and its forked children.
So the exporter chain is built per process (inside :class:`~spanwise.distro._exporters.ForkSafe`)
and the tail sampler is rebuilt in each forked child (:class:`ForkSafeSpanProcessor`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._settings import OtlpSettings, Settings

__all__ = [
    "ForkSafeSpanProcessor",
    "SuppressedSpanExporter",
    "adopt_orphaned_buffers",
    "buffered",
    "otlp_span_exporter",
    "process_buffer_directory",
    "tail_sampling_processor",
]

logger = logging.getLogger("spanwise.distro")

_BATCH_SUFFIX = ".otlp"
_TMP_SUFFIX = ".tmp"


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def adopt_orphaned_buffers(root: Path, own: Path) -> int:
    """Move the complete batch files of dead processes' directories under *root* into *own*.

    A directory is a dead process's when its name is a process id that no longer runs. Files
    keep their names, which order them by export time, so the adopter replays them first and in
    order. Half-written (temporary) files are deleted, never replayed. Two processes adopting at
    once each get a file or the other does (a rename is atomic). Returns the files adopted.
    """
    adopted = 0
    for child in root.iterdir():
        if child == own or not child.name.isdigit() or not child.is_dir():
            continue
        pid = int(child.name)
        if pid <= 0 or pid == os.getpid() or _alive(pid):
            continue
        for path in sorted(child.iterdir()):
            try:
                if path.name.endswith(_BATCH_SUFFIX):
                    target = own / path.name
                    if target.exists():
                        continue
                    path.rename(target)
                    adopted += 1
                elif path.name.endswith(_TMP_SUFFIX):
                    path.unlink()
            except OSError:
                continue  # another process took it first
        with contextlib.suppress(OSError):  # not empty, or already gone
            child.rmdir()
    return adopted


def process_buffer_directory(base: str) -> Path:
    """``base/<pid>`` for this process, created, with dead processes' batches adopted into it.

    One directory per process, so gunicorn or Celery workers sharing ``base`` never share a
    file; a restarted service (new pid) replays what the old one left.
    """
    root = Path(base)
    own = root / str(os.getpid())
    own.mkdir(parents=True, exist_ok=True)
    try:
        count = adopt_orphaned_buffers(root, own)
    except OSError as exc:
        logger.warning("spanwise: could not look for buffers of earlier processes: %s", exc)
    else:
        if count:
            logger.info("spanwise: replaying %d span batches left by earlier processes", count)
    return own


def otlp_span_exporter(otlp: OtlpSettings, settings: Settings | None) -> SpanExporter:
    """The OTLP span exporter for *otlp*, wrapped in a retrying exporter unless retry is off
    (or no *settings* are given), under a disk buffer when ``export_buffer_dir`` is set.

    Builds threads and files: call it in the process that exports (inside ``ForkSafe``).
    """
    from spanwise.core.export import RetryingSpanExporter

    retry = settings is not None and settings.export_retry
    exporter: SpanExporter
    if otlp.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        exporter = GrpcSpanExporter(
            endpoint=otlp.endpoint,
            insecure=otlp.insecure,
            headers=dict(otlp.headers),
            timeout=otlp.timeout,
        )
        if retry and settings is not None:
            exporter = RetryingSpanExporter(
                exporter,
                settings.export_retry_max_attempts,
                settings.export_retry_initial_delay,
                settings.export_retry_max_delay,
                settings.export_retry_multiplier,
            )
    elif retry and settings is not None:
        exporter = RetryingSpanExporter.for_otlp_http(
            settings.export_retry_max_attempts,
            settings.export_retry_initial_delay,
            settings.export_retry_max_delay,
            settings.export_retry_multiplier,
            endpoint=otlp.endpoint,
            headers=dict(otlp.headers),
            timeout=otlp.timeout,
        )
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        exporter = HttpSpanExporter(
            endpoint=otlp.endpoint, headers=dict(otlp.headers), timeout=otlp.timeout
        )
    if settings is not None and settings.export_buffer_dir:
        return buffered(exporter, settings)
    return exporter


class SuppressedSpanExporter(SpanExporter):
    """Runs the wrapped exporter with instrumentation suppressed, as the SDK's batch processor
    does: the disk buffer sends from its own thread, where an instrumented HTTP client (our
    requests plugin) would otherwise trace every export, and export those spans, forever.

    .. versionadded:: 0.1.0
    """

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        token = otel_context.attach(
            otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True)
        )
        try:
            return self.exporter.export(spans)
        finally:
            otel_context.detach(token)

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def buffered(exporter: SpanExporter, settings: Settings) -> SpanExporter:
    """*exporter* behind a :class:`~spanwise.core.export.DiskBufferedSpanExporter` writing to
    this process's directory under ``export_buffer_dir`` (the exporter itself if the
    directory cannot be used: telemetry goes on without the buffer, after a warning)."""
    from spanwise.core.export import DiskBufferedSpanExporter

    assert settings.export_buffer_dir is not None
    try:
        directory = process_buffer_directory(settings.export_buffer_dir)
        return DiskBufferedSpanExporter(
            SuppressedSpanExporter(exporter),
            directory,
            settings.export_buffer_max_bytes,
            retry_initial_delay=max(0.05, settings.export_retry_initial_delay),
            retry_max_delay=max(0.05, settings.export_retry_max_delay),
        )
    except (OSError, ValueError, ImportError) as exc:
        logger.warning(
            "spanwise: SPANWISE_EXPORT_BUFFER_DIR=%s cannot be used (%s); exporting without "
            "a disk buffer",
            settings.export_buffer_dir,
            exc,
        )
        return exporter


def _reset_after_fork(ref: weakref.ref[ForkSafeSpanProcessor]) -> None:
    processor = ref()
    if processor is not None:
        processor._lock = threading.Lock()  # a parent thread may have held it at fork
        processor._inner = None


class ForkSafeSpanProcessor(SpanProcessor):
    """A span processor built once per process: in a forked child the first span builds a
    fresh one (the parent's, copied by ``fork()``, has no threads in the child).

    .. versionadded:: 0.1.0
    """

    def __init__(self, factory: Callable[[], SpanProcessor]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._inner: SpanProcessor | None = factory()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                after_in_child=functools.partial(_reset_after_fork, weakref.ref(self))
            )

    @property
    def inner(self) -> SpanProcessor:
        """The processor of this process (built now if this is a fresh fork)."""
        inner = self._inner
        if inner is not None:
            return inner
        with self._lock:
            if self._inner is None:
                self._inner = self._factory()
            return self._inner

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.inner.on_end(span)

    def shutdown(self) -> None:
        inner = self._inner
        if inner is not None:
            inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        inner = self._inner
        return True if inner is None else inner.force_flush(timeout_millis)


def tail_sampling_processor(
    settings: Settings, processors: list[SpanProcessor]
) -> ForkSafeSpanProcessor:
    """A :class:`~spanwise.core.sampling.TailSamplingSpanProcessor` (from the checked
    ``tail_sampling_config``) in front of *processors* (the exporters' batch processors), one
    per process."""
    from spanwise.core.sampling import TailSamplingSpanProcessor

    config = settings.tail_sampling_config
    assert config is not None
    downstream: SpanProcessor
    if len(processors) == 1:
        downstream = processors[0]
    else:
        multi = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
        for processor in processors:
            multi.add_span_processor(processor)
        downstream = multi
    return ForkSafeSpanProcessor(lambda: TailSamplingSpanProcessor.from_config(downstream, config))
