"""Configuring the SDK: sampler, propagators, providers, and respect for an app's own SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, TraceIdRatioBased

from spanwise.core.sampling import TailSamplingSpanProcessor
from spanwise.core.testing import CapturedTelemetry, free_port
from spanwise.distro import configure, load_settings
from spanwise.distro._configure import (
    build_logger_provider,
    build_meter_provider,
    build_propagator,
    build_sampler,
    build_tracer_provider,
)
from spanwise.distro._pipeline import ForkSafeSpanProcessor
from spanwise.distro._resource import build_resource


class TestSampler:
    @pytest.mark.parametrize(
        ("name", "description"),
        [
            ("always_on", ALWAYS_ON.get_description()),
            ("always_off", ALWAYS_OFF.get_description()),
            ("traceidratio", TraceIdRatioBased(0.25).get_description()),
            ("parentbased_always_off", ParentBased(ALWAYS_OFF).get_description()),
            ("parentbased_traceidratio", ParentBased(TraceIdRatioBased(0.25)).get_description()),
        ],
    )
    def test_named_samplers(self, name: str, description: str) -> None:
        """Each OTEL_TRACES_SAMPLER value builds the matching SDK sampler."""
        settings = load_settings({"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": "0.25"})
        assert description == build_sampler(settings).get_description()


class TestPropagator:
    def test_b3_and_tracecontext_injected(self) -> None:
        """b3 single header and traceparent are both written for a sampled context."""
        propagator = build_propagator(load_settings({"OTEL_PROPAGATORS": "tracecontext,b3"}))
        provider = build_tracer_provider(
            load_settings({"OTEL_TRACES_EXPORTER": "none"}), build_resource(load_settings({}))
        )
        carrier: dict[str, str] = {}
        with provider.get_tracer("t").start_as_current_span("s"):
            propagator.inject(carrier)
        assert ["b3", "traceparent"] == sorted(carrier)

    def test_b3multi_extracts(self) -> None:
        """b3multi reads X-B3-* headers."""
        propagator = build_propagator(load_settings({"OTEL_PROPAGATORS": "b3multi"}))
        ctx = propagator.extract(
            {"x-b3-traceid": "0af7651916cd43dd8448eb211c80319c", "x-b3-spanid": "b7ad6b7169203331",
             "x-b3-sampled": "1"}
        )  # fmt: skip
        span_context = trace.get_current_span(ctx).get_span_context()
        assert 0x0AF7651916CD43DD8448EB211C80319C == span_context.trace_id

    def test_hostile_headers_do_not_raise(self) -> None:
        """Malformed traceparent and baggage are ignored."""
        propagator = build_propagator(load_settings({}))
        ctx = propagator.extract({"traceparent": "zz-\xff-bad", "baggage": "=;=;" * 1000})
        assert not trace.get_current_span(ctx).get_span_context().is_valid


class TestProviders:
    def test_console_traces_print_a_tree(self, capfd: pytest.CaptureFixture[str]) -> None:
        """OTEL_TRACES_EXPORTER=console prints the finished trace as a tree, without colour
        when the output is not a terminal."""
        settings = load_settings({"OTEL_TRACES_EXPORTER": "console"})
        provider = build_tracer_provider(settings, build_resource(settings))
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("checkout"):
            tracer.start_span("validate_cart").end()
        provider.shutdown()
        lines = capfd.readouterr().out.splitlines()
        assert (["checkout", "└── validate_cart"], False) == (
            [line.rsplit(" ", 1)[0] for line in lines],
            any("\033[" in line for line in lines),
        )

    def test_console_json_traces(self, capfd: pytest.CaptureFixture[str]) -> None:
        """console_json keeps the SDK's JSON span exporter, with the resource."""
        settings = load_settings({"OTEL_TRACES_EXPORTER": "console_json", "OTEL_SERVICE_NAME": "c"})
        provider = build_tracer_provider(settings, build_resource(settings))
        provider.get_tracer("t").start_span("printed").end()
        provider.force_flush()
        provider.shutdown()
        out = capfd.readouterr().out
        assert ('"name": "printed"' in out, '"service.name": "c"' in out) == (True, True)

    def test_no_logs_provider_when_logs_off(self) -> None:
        """OTEL_LOGS_EXPORTER=none: no logger provider at all."""
        settings = load_settings({"OTEL_LOGS_EXPORTER": "none"})
        assert build_logger_provider(settings, build_resource(settings)) is None

    def test_prometheus_serves_exemplars(self) -> None:
        """OTEL_METRICS_EXPORTER=prometheus (with console) serves OpenMetrics on the configured
        port; a histogram recorded in a sampled span carries its trace id as an exemplar."""
        port = free_port()
        settings = load_settings(
            {
                "OTEL_METRICS_EXPORTER": "prometheus,console",
                "OTEL_EXPORTER_PROMETHEUS_PORT": str(port),
            }
        )
        provider = build_meter_provider(settings, build_resource(settings))
        tracer = TracerProvider().get_tracer("t")
        histogram = provider.get_meter("m").create_histogram("work.duration", unit="s")
        try:
            with tracer.start_as_current_span("work") as span:
                histogram.record(0.25, {"work.kind": "a"})
                trace_id = format(span.get_span_context().trace_id, "032x")
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Accept": "application/openmetrics-text"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read().decode()
        finally:
            provider.shutdown()
        kinds = sorted(type(r).__name__ for r in provider._metric_readers)
        assert ["ForkAwarePrometheusReader", "PeriodicExportingMetricReader"] == kinds
        assert f'trace_id="{trace_id}"' in body


@pytest.fixture
def saved_textmap() -> Iterator[None]:
    textmap = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(textmap)


class TestConfigureRespectsApp:
    def test_existing_providers_left_alone(
        self, telemetry: CapturedTelemetry, saved_textmap: None
    ) -> None:
        """When the app already set the SDK providers, configure() keeps them and says so."""
        del saved_textmap
        before = trace.get_tracer_provider()
        result = configure(traces_exporter="none", metrics_exporter="none", logs_exporter="none")
        assert (before, None, None) == (
            trace.get_tracer_provider(),
            result.tracer_provider,
            result.meter_provider,
        )
        assert any(
            note.startswith("traces: a tracer provider is already set") for note in result.notes
        )


SCRIPT = textwrap.dedent(
    """
    import json, os
    from opentelemetry import _logs, metrics, trace
    from spanwise.distro import configure
    first = configure(service_name="svc", traces_exporter="none", metrics_exporter="none",
                      logs_exporter="console")
    second = configure()
    print(json.dumps({
        "tracer": trace.get_tracer_provider() is first.tracer_provider,
        "meter": metrics.get_meter_provider() is first.meter_provider,
        "logger": _logs.get_logger_provider() is first.logger_provider,
        "second": [second.tracer_provider, second.meter_provider, second.logger_provider],
        "logs_env": os.environ.get("SPANWISE_LOGS_EXPORT"),
        "service": first.resource.attributes["service.name"],
    }))
    """
)


def run_script(script: str, **env: str) -> Any:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPANWISE_"))}
    clean.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", script], env={**clean, **env}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert 0 == proc.returncode, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


class TestConfigureFresh:
    def test_installs_global_providers_once(self) -> None:
        """A fresh process gets all three providers; a second call keeps them; logs export
        tells the logging plugins through SPANWISE_LOGS_EXPORT."""
        expected = {
            "tracer": True,
            "meter": True,
            "logger": True,
            "second": [None, None, None],
            "logs_env": "true",
            "service": "svc",
        }
        assert expected == run_script(SCRIPT)

    def test_sdk_disabled(self) -> None:
        """OTEL_SDK_DISABLED=true configures nothing."""
        script = (
            "import json; from opentelemetry import trace; from spanwise.distro import configure;"
            "c = configure(); print(json.dumps([c.tracer_provider is None, "
            "type(trace.get_tracer_provider()).__name__]))"
        )
        assert [True, "ProxyTracerProvider"] == run_script(script, OTEL_SDK_DISABLED="true")


GUARD_SCRIPT = textwrap.dedent(
    """
    import json
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from spanwise.distro import configure
    configure(traces_exporter="none", metrics_exporter="none", logs_exporter="none")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])  # the application's own
    counter = provider.get_meter("shop").create_counter("logins")
    for user in range(2100):
        counter.add(1, {"user.id": str(user)})
    (metric,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
    points = metric.data.data_points
    overflow = [p.value for p in points if p.attributes.get("otel.metric.overflow")]
    print(json.dumps([len(points), overflow]))
    """
)


class TestCardinalityGuard:
    def test_on_by_default(self) -> None:
        """configure() limits every instrument, the application's own included: 2100 user ids
        give 2000 series and one overflow series holding the other 100."""
        assert [2001, [100]] == run_script(GUARD_SCRIPT)

    def test_limit_from_environment(self) -> None:
        """SPANWISE_METRICS_CARDINALITY_LIMIT sets the limit."""
        assert [101, [2000]] == run_script(GUARD_SCRIPT, SPANWISE_METRICS_CARDINALITY_LIMIT="100")

    def test_switched_off(self) -> None:
        """SPANWISE_METRICS_CARDINALITY_GUARD=false leaves the SDK unlimited."""
        assert [2100, []] == run_script(GUARD_SCRIPT, SPANWISE_METRICS_CARDINALITY_GUARD="false")


class TestTailSamplingWiring:
    def test_one_tail_sampler_in_front_of_the_batch_processors(self) -> None:
        """With tail sampling configured the provider holds one fork-safe tail sampler whose
        next processor holds the exporters' batch processors, and the head keeps all."""
        settings = load_settings(
            {
                "OTEL_TRACES_EXPORTER": "console,console_json",
                "SPANWISE_TAIL_SAMPLING_POLICIES": "[{name: a, type: always_sample}]",
            }
        )
        provider = build_tracer_provider(settings, build_resource(settings))
        try:
            (processor,) = provider._active_span_processor._span_processors
            assert isinstance(processor, ForkSafeSpanProcessor)
            tail = processor.inner
            assert isinstance(tail, TailSamplingSpanProcessor)
            inner = [type(p).__name__ for p in tail.next._span_processors]  # type: ignore[attr-defined]
            assert (["BatchSpanProcessor"] * 2, ALWAYS_ON.get_description()) == (
                inner,
                provider.sampler.get_description(),
            )
        finally:
            provider.shutdown()
