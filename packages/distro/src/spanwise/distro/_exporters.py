"""Exporters for each signal, built from the settings, each safe to carry across ``fork()``.

An OTLP exporter holds a gRPC channel or an HTTP session; neither may be shared by a parent
and its forked children. :class:`ForkSafe` builds the real exporter on first use in each
process, so a gunicorn ``--preload`` master that configured the SDK hands every worker a
fresh one (the SDK's batch processors restart their own threads after a fork).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    ConsoleLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult

from spanwise.core.export import ConsoleSpanTreeExporter

from ._pipeline import otlp_span_exporter
from ._settings import OtlpSettings, Settings

__all__ = [
    "ForkSafe",
    "ForkSafeLogExporter",
    "ForkSafeMetricExporter",
    "ForkSafeSpanExporter",
    "log_exporter",
    "metric_exporter",
    "metric_temporality",
    "span_exporter",
]

E = TypeVar("E")


class ForkSafe(Generic[E]):
    """Builds the wrapped exporter lazily, once per process id.

    .. versionadded:: 0.1.0
    """

    def __init__(self, factory: Callable[[], E]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._pid = -1
        self._inner: E | None = None

    def get(self) -> E:
        """The exporter of the current process (built on first call after start or fork)."""
        pid = os.getpid()
        inner = self._inner
        if inner is not None and self._pid == pid:
            return inner
        with self._lock:
            if self._inner is None or self._pid != pid:
                self._inner = self._factory()
                self._pid = pid
            return self._inner

    def current(self) -> E | None:
        """The exporter built in this process, if any (nothing is built)."""
        return self._inner if self._pid == os.getpid() else None


class ForkSafeSpanExporter(SpanExporter):
    """A span exporter that builds its real exporter per process.

    .. versionadded:: 0.1.0
    """

    def __init__(self, factory: Callable[[], SpanExporter]) -> None:
        self.exporter = ForkSafe(factory)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.get().export(spans)

    def shutdown(self) -> None:
        inner = self.exporter.current()
        if inner is not None:
            inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        inner = self.exporter.current()
        return True if inner is None else inner.force_flush(timeout_millis)


class ForkSafeMetricExporter(MetricExporter):
    """A metric exporter that builds its real exporter per process.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        factory: Callable[[], MetricExporter],
        preferred_temporality: dict[type, AggregationTemporality] | None = None,
    ) -> None:
        super().__init__(preferred_temporality=preferred_temporality)
        self.exporter = ForkSafe(factory)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self.exporter.get().export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        inner = self.exporter.current()
        return True if inner is None else inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        inner = self.exporter.current()
        if inner is not None:
            inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class ForkSafeLogExporter(LogRecordExporter):
    """A log record exporter that builds its real exporter per process.

    .. versionadded:: 0.1.0
    """

    def __init__(self, factory: Callable[[], LogRecordExporter]) -> None:
        self.exporter = ForkSafe(factory)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self.exporter.get().export(batch)  # type: ignore[no-any-return]

    def shutdown(self) -> None:
        inner = self.exporter.current()
        if inner is not None:
            inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        inner = self.exporter.current()
        return True if inner is None else bool(inner.force_flush(timeout_millis))


def metric_temporality(preference: str | None) -> dict[type, AggregationTemporality]:
    """``OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE``: cumulative (default), delta or
    lowmemory, as the OTLP exporter specification defines them."""
    pref = (preference or "cumulative").strip().lower()
    cumulative = AggregationTemporality.CUMULATIVE
    delta = AggregationTemporality.DELTA
    table: dict[type, AggregationTemporality] = {
        Counter: cumulative,
        UpDownCounter: cumulative,
        Histogram: cumulative,
        ObservableCounter: cumulative,
        ObservableUpDownCounter: cumulative,
        ObservableGauge: cumulative,
    }
    if pref == "delta":
        table.update({Counter: delta, Histogram: delta, ObservableCounter: delta})
    elif pref == "lowmemory":
        table.update({Counter: delta, Histogram: delta})
    return table


def span_exporter(kind: str, otlp: OtlpSettings, settings: Settings | None = None) -> SpanExporter:
    """The span exporter named *kind*: ``console`` (each finished trace printed as a tree),
    ``console_json`` (the SDK's JSON per span) or ``otlp``.

    With *settings*, OTLP export retries with backoff (``export_retry*``) and, when
    ``export_buffer_dir`` is set, keeps batches on disk while the backend is down; the chain is
    built per process (see :class:`ForkSafe`).
    """
    if kind == "console":
        return ConsoleSpanTreeExporter()
    if kind == "console_json":
        return ConsoleSpanExporter()
    return ForkSafeSpanExporter(functools.partial(otlp_span_exporter, otlp, settings))


def metric_exporter(kind: str, otlp: OtlpSettings) -> MetricExporter:
    """The metric exporter named *kind* (``otlp`` or ``console``)."""
    if kind == "console":
        return ConsoleMetricExporter()
    temporality = metric_temporality(
        os.environ.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE")
    )

    def build() -> MetricExporter:
        if otlp.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
                OTLPMetricExporter as GrpcMetricExporter,
            )

            return GrpcMetricExporter(
                endpoint=otlp.endpoint,
                insecure=otlp.insecure,
                headers=dict(otlp.headers),
                timeout=otlp.timeout,
                preferred_temporality=temporality,
            )
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter(
            endpoint=otlp.endpoint,
            headers=dict(otlp.headers),
            timeout=otlp.timeout,
            preferred_temporality=temporality,
        )

    return ForkSafeMetricExporter(build, temporality)


def log_exporter(kind: str, otlp: OtlpSettings) -> LogRecordExporter:
    """The log record exporter named *kind* (``otlp`` or ``console``)."""
    if kind == "console":
        return ConsoleLogRecordExporter()

    def build() -> LogRecordExporter:
        if otlp.protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
                OTLPLogExporter as GrpcLogExporter,
            )

            return GrpcLogExporter(
                endpoint=otlp.endpoint,
                insecure=otlp.insecure,
                headers=dict(otlp.headers),
                timeout=otlp.timeout,
            )
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (
            OTLPLogExporter as HttpLogExporter,
        )

        return HttpLogExporter(
            endpoint=otlp.endpoint, headers=dict(otlp.headers), timeout=otlp.timeout
        )

    return ForkSafeLogExporter(build)
