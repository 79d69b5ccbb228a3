"""Configure the OpenTelemetry SDK from :class:`~spanwise.distro.Settings`."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import _logs, metrics, propagate, trace
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from spanwise.core.metrics import install_cardinality_guard

from ._exporters import log_exporter, metric_exporter, span_exporter
from ._pipeline import tail_sampling_processor
from ._prometheus import ForkAwarePrometheusReader
from ._resource import build_resource, process_attributes
from ._settings import Settings, load_settings

__all__ = [
    "LOGS_EXPORT_VARIABLE",
    "Configuration",
    "build_logger_provider",
    "build_meter_provider",
    "build_propagator",
    "build_sampler",
    "build_tracer_provider",
    "configure",
]

logger = logging.getLogger("spanwise.distro")

#: Set to ``true`` when logs are exported, so the logging plugins forward log records.
LOGS_EXPORT_VARIABLE = "SPANWISE_LOGS_EXPORT"


@dataclass
class Configuration:
    """What :func:`configure` did: the settings in force and the providers it installed
    (``None`` for a signal it left alone, with the reason in :attr:`notes`).

    .. versionadded:: 0.1.0
    """

    settings: Settings
    resource: Resource | None = None
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    logger_provider: LoggerProvider | None = None
    notes: list[str] = field(default_factory=list)

    def shutdown(self) -> None:
        """Flush and shut down the providers installed by :func:`configure`."""
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is not None:
                try:
                    provider.shutdown()
                except Exception as exc:  # noqa: BLE001
                    logger.warning("spanwise: shutting down %r failed: %s", provider, exc)


def build_sampler(settings: Settings) -> Sampler:
    """The sampler named by ``OTEL_TRACES_SAMPLER`` (with ``OTEL_TRACES_SAMPLER_ARG``)."""
    name = settings.traces_sampler
    root: Sampler
    base = name.removeprefix("parentbased_")
    if base == "always_off":
        root = ALWAYS_OFF
    elif base == "traceidratio":
        root = TraceIdRatioBased(settings.traces_sampler_arg)
    else:
        root = ALWAYS_ON
    return ParentBased(root) if name.startswith("parentbased_") else root


def build_propagator(settings: Settings) -> TextMapPropagator:
    """The composite of the propagators named by ``OTEL_PROPAGATORS``."""
    found: list[TextMapPropagator] = []
    for name in settings.propagators:
        if name == "tracecontext":
            found.append(TraceContextTextMapPropagator())
        elif name == "baggage":
            found.append(W3CBaggagePropagator())
        elif name in ("b3", "b3multi"):
            from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat

            found.append(B3SingleFormat() if name == "b3" else B3MultiFormat())
    return CompositePropagator(found)


def build_tracer_provider(settings: Settings, resource: Resource) -> TracerProvider:
    """A tracer provider with the sampler and one batch processor per span exporter; with
    tail sampling configured, one tail-sampling processor in front of them."""
    provider = TracerProvider(resource=resource, sampler=build_sampler(settings))
    bsp = settings.bsp
    processors: list[SpanProcessor] = [
        BatchSpanProcessor(
            span_exporter(kind, settings.otlp["traces"], settings),
            max_queue_size=bsp.max_queue_size,
            schedule_delay_millis=bsp.schedule_delay_ms,
            max_export_batch_size=bsp.max_export_batch_size,
            export_timeout_millis=bsp.export_timeout_ms,
        )
        for kind in settings.traces_exporter
        if kind != "none"
    ]
    if processors and settings.tail_sampling_config is not None:
        processors = [tail_sampling_processor(settings, processors)]
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def build_meter_provider(settings: Settings, resource: Resource) -> MeterProvider:
    """A meter provider with one periodic reader per pushing metric exporter, and the
    Prometheus endpoint (with exemplars) for ``prometheus``."""
    readers: list[MetricReader] = []
    for kind in settings.metrics_exporter:
        if kind == "none":
            continue
        if kind == "prometheus":
            readers.append(
                ForkAwarePrometheusReader(
                    settings.exporter_prometheus_host,
                    settings.exporter_prometheus_port,
                    port_per_worker=settings.prometheus_port_per_worker,
                )
            )
            continue
        readers.append(
            PeriodicExportingMetricReader(
                metric_exporter(kind, settings.otlp["metrics"]),
                export_interval_millis=settings.metric_export_interval_ms,
            )
        )
    return MeterProvider(resource=resource, metric_readers=readers)


def build_logger_provider(settings: Settings, resource: Resource) -> LoggerProvider | None:
    """A logger provider with one batch processor per log exporter (``None`` if logs are
    not exported)."""
    kinds = [kind for kind in settings.logs_exporter if kind != "none"]
    if not kinds:
        return None
    provider = LoggerProvider(resource=resource)
    for kind in kinds:
        provider.add_log_record_processor(
            BatchLogRecordProcessor(
                log_exporter(kind, settings.otlp["logs"]),
                schedule_delay_millis=settings.bsp.schedule_delay_ms,
            )
        )
    return provider


_fork_lock = threading.Lock()
_fork_providers: weakref.WeakSet[Any] = weakref.WeakSet()
_fork_hook_installed = False


def _refresh_process_after_fork() -> None:
    try:
        update = Resource(process_attributes())
        for provider in list(_fork_providers):
            refresh = getattr(provider, "_update_resource", None)
            if refresh is not None:
                refresh(update)
    except Exception as exc:  # noqa: BLE001  never break the forked child
        logger.debug("spanwise: refreshing process attributes after fork failed: %s", exc)


def _track_for_fork(*providers: Any) -> None:
    """After a fork the child's telemetry carries the child's ``process.pid``."""
    global _fork_hook_installed
    with _fork_lock:
        for provider in providers:
            if provider is not None:
                _fork_providers.add(provider)
        if not _fork_hook_installed and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_refresh_process_after_fork)
            _fork_hook_installed = True


def configure(**overrides: Any) -> Configuration:
    """Configure the global OpenTelemetry SDK from the ``OTEL_*`` variables and *overrides*.

    The keywords are those of :func:`~spanwise.distro.load_settings` (``service_name=``,
    ``traces_exporter=``, ``exporter_otlp_endpoint=``, ...) and win over the environment.
    A signal whose global provider the app has already set is left alone (noted in
    :attr:`Configuration.notes`); ``OTEL_SDK_DISABLED=true`` configures nothing. Safe to
    call more than once: later calls leave the providers of earlier ones in place.

    .. versionadded:: 0.1.0
    """
    settings = load_settings(**overrides)
    result = Configuration(settings)
    for problem in settings.problems:
        logger.warning("spanwise: %s", problem)
    if settings.sdk_disabled:
        result.notes.append("OTEL_SDK_DISABLED=true: the SDK is not configured")
        logger.info("spanwise: %s", result.notes[-1])
        return result

    propagate.set_global_textmap(build_propagator(settings))
    resource = result.resource = build_resource(settings)

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        result.tracer_provider = build_tracer_provider(settings, resource)
        trace.set_tracer_provider(result.tracer_provider)
    else:
        result.notes.append("traces: a tracer provider is already set; left as it is")

    if settings.metrics_cardinality_guard:
        # Before any meter provider is built: streams created from now on are limited,
        # including those of a provider the application sets up itself.
        install_cardinality_guard(settings.metrics_cardinality_limit)
    if isinstance(metrics.get_meter_provider(), _ProxyMeterProvider):
        result.meter_provider = build_meter_provider(settings, resource)
        metrics.set_meter_provider(result.meter_provider)
    else:
        result.notes.append("metrics: a meter provider is already set; left as it is")

    if isinstance(_logs.get_logger_provider(), ProxyLoggerProvider):
        result.logger_provider = build_logger_provider(settings, resource)
        if result.logger_provider is not None:
            _logs.set_logger_provider(result.logger_provider)
            os.environ[LOGS_EXPORT_VARIABLE] = "true"
    else:
        result.notes.append("logs: a logger provider is already set; left as it is")

    for note in result.notes:
        logger.info("spanwise: %s", note)
    _track_for_fork(result.tracer_provider, result.meter_provider, result.logger_provider)
    return result
