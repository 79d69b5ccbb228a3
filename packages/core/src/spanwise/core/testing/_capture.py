"""In-memory capture of spans, metrics and logs, installed once as the global providers."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult

from ._tree import assert_span_tree, render_tree

__all__ = ["CapturedTelemetry", "SwitchableSampler", "captured_telemetry"]


class SwitchableSampler(Sampler):
    """A sampler whose delegate a test can change (the SDK fixes the sampler at creation)."""

    def __init__(self, delegate: Sampler = ALWAYS_ON) -> None:
        self.delegate = delegate

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return self.delegate.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return f"Switchable({self.delegate.get_description()})"


class CapturedTelemetry:
    """Providers with in-memory exporters/readers, and helpers to look at what they caught.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        self.resource = Resource.create({"service.name": "spanwise-tests"})
        self.sampler = SwitchableSampler()
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(resource=self.resource, sampler=self.sampler)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        delta = AggregationTemporality.DELTA
        self.metric_reader = InMemoryMetricReader(
            preferred_temporality={
                Counter: delta,
                UpDownCounter: delta,
                Histogram: delta,
                ObservableCounter: delta,
                ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
                ObservableGauge: AggregationTemporality.CUMULATIVE,
            }
        )
        self.meter_provider = MeterProvider(
            resource=self.resource, metric_readers=[self.metric_reader]
        )
        self.log_exporter: Any = None
        self.logger_provider: Any = None
        self._install_logs()

    def _install_logs(self) -> None:
        try:
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.sdk._logs import export as log_export
        except ImportError:  # pragma: no cover - very old SDKs
            return
        exporter_cls = (
            getattr(log_export, "InMemoryLogRecordExporter", None) or log_export.InMemoryLogExporter
        )
        self.log_exporter = exporter_cls()
        self.logger_provider = LoggerProvider(resource=self.resource)
        self.logger_provider.add_log_record_processor(
            log_export.SimpleLogRecordProcessor(self.log_exporter)
        )

    # -- controlling -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything caught so far and sample every trace again."""
        self.sampler.delegate = ALWAYS_ON
        self.span_exporter.clear()
        self.metric_reader.get_metrics_data()  # delta: drains what was recorded
        if self.log_exporter is not None:
            self.log_exporter.clear()

    def sample(self, on: bool = True) -> None:
        """Sample every new trace (``True``) or none (``False``)."""
        self.sampler.delegate = ALWAYS_ON if on else ALWAYS_OFF

    def set_sampler(self, sampler: Sampler) -> None:
        """Use *sampler* for new spans."""
        self.sampler.delegate = sampler

    # -- spans -------------------------------------------------------------------------------

    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self.span_exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called *name* (fails if there are none or several)."""
        found = [s for s in self.spans() if s.name == name]
        if len(found) != 1:
            names = [s.name for s in self.spans()]
            raise AssertionError(f"expected one span {name!r}, found {len(found)} among {names}")
        return found[0]

    def tree(self, attributes: Sequence[str] = ()) -> str:
        """The finished spans as a text tree (see :func:`render_tree`)."""
        return render_tree(self.spans(), attributes)

    def assert_tree(self, expected: str, attributes: Sequence[str] = ()) -> None:
        """Assert the finished spans render as *expected*."""
        assert_span_tree(self.spans(), expected, attributes)

    # -- metrics -----------------------------------------------------------------------------

    def metrics(self, scope: str | None = None) -> dict[str, list[Any]]:
        """Data points recorded since the last call (or reset), by metric name.

        Synchronous instruments report what was recorded since; observable ones (such as
        ``http.server.active_requests``) report their current value every time, for every
        series they know. *scope* keeps only one instrumentation scope's metrics (every
        scope's are drained all the same).
        """
        out: dict[str, list[Any]] = {}
        data = self.metric_reader.get_metrics_data()
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                if scope is not None and sm.scope.name != scope:
                    continue
                for metric in sm.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out

    # -- logs --------------------------------------------------------------------------------

    def logs(self) -> list[Any]:
        """Log records emitted through the logger provider."""
        if self.log_exporter is None:
            return []
        return list(self.log_exporter.get_finished_logs())


_lock = threading.Lock()
_installed: CapturedTelemetry | None = None


def captured_telemetry() -> CapturedTelemetry:
    """The process-wide capture, installed as the global tracer and meter providers (and the
    global logger provider) on first use. The OpenTelemetry globals can be set only once, so
    every test shares these providers; the fixtures reset them between tests."""
    global _installed
    with _lock:
        if _installed is None:
            captured = CapturedTelemetry()
            trace.set_tracer_provider(captured.tracer_provider)
            metrics.set_meter_provider(captured.meter_provider)
            if captured.logger_provider is not None:
                from opentelemetry import _logs

                _logs.set_logger_provider(captured.logger_provider)
            _installed = captured
        return _installed
