"""TailSamplingSpanProcessor: errors and slow traces kept, a consistent share of the rest."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from spanwise.core.sampling import TailSamplingSpanProcessor, parse_duration

SEED_CONFIG = {
    "tail_sampling": {
        "decision_wait": "50ms",
        "num_traces": 100000,
        "policies": [
            {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
            {"name": "slow-traces", "type": "latency", "latency": {"threshold_ms": 30}},
            {
                "name": "probabilistic",
                "type": "probabilistic",
                "probabilistic": {"sampling_percentage": 5},
            },
        ],
    }
}


def pipeline(
    config: dict,
) -> tuple[TracerProvider, TailSamplingSpanProcessor, InMemorySpanExporter]:  # type: ignore[type-arg]
    exporter = InMemorySpanExporter()
    processor = TailSamplingSpanProcessor.from_config(SimpleSpanProcessor(exporter), config)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, processor, exporter


class TestTailSampling:
    def test_keeps_errors_slow_and_a_share_of_the_rest(self) -> None:
        """Every error trace and slow trace kept; about 5% of 2000 plain traces."""
        provider, processor, exporter = pipeline(SEED_CONFIG)
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("failing"):
            with tracer.start_as_current_span("child") as child:
                child.set_status(StatusCode.ERROR)
        with tracer.start_as_current_span("slow"):
            time.sleep(0.04)
        for _ in range(2000):
            with tracer.start_as_current_span("plain"):
                pass
        processor.force_flush()
        names = [s.name for s in exporter.get_finished_spans()]
        assert {"failing", "child", "slow"} <= set(names)
        plain = names.count("plain")
        assert 40 <= plain <= 170, plain
        provider.shutdown()

    def test_consistent_across_services(self) -> None:
        """Two processes with the same policy keep the same traces (a function of the trace id)."""
        cfg = {
            "decision_wait": "1s",
            "policies": [{"type": "probabilistic", "probabilistic": {"sampling_percentage": 30}}],
        }
        _, first, first_out = pipeline(cfg)
        _, second, second_out = pipeline(cfg)
        source = TracerProvider()
        tracer = source.get_tracer("t")
        spans = []
        for _ in range(300):
            span = tracer.start_span("op")
            span.end()
            spans.append(span)
        for span in spans:
            first.on_end(span)
            second.on_end(span)
        first.force_flush()
        second.force_flush()
        kept_first = {s.context.trace_id for s in first_out.get_finished_spans()}
        kept_second = {s.context.trace_id for s in second_out.get_finished_spans()}
        assert kept_first == kept_second
        assert 40 < len(kept_first) < 140

    def test_decision_waits_then_late_spans_follow(self) -> None:
        """Nothing is exported before decision_wait; a span ending later follows the decision."""
        cfg = {
            "decision_wait": "100ms",
            "policies": [
                {
                    "type": "string_attribute",
                    "string_attribute": {"key": "tier", "values": ["gold"]},
                }
            ],
        }
        provider, processor, exporter = pipeline(cfg)
        tracer = provider.get_tracer("t")
        root = tracer.start_span("root")
        root.set_attribute("tier", "gold")
        root.end()
        assert [] == list(exporter.get_finished_spans())
        deadline = time.monotonic() + 5
        while not exporter.get_finished_spans() and time.monotonic() < deadline:
            time.sleep(0.02)
        from opentelemetry import trace

        with trace.use_span(root, end_on_exit=False):
            tracer.start_span("late").end()
        assert ["root", "late"] == [s.name for s in exporter.get_finished_spans()]
        assert 1 == processor.stats.late_spans
        provider.shutdown()

    def test_memory_bounded_by_num_traces(self) -> None:
        """Never more than num_traces traces buffered; the oldest are decided early."""
        cfg = {"decision_wait": "60s", "num_traces": 10, "policies": [{"type": "always_sample"}]}
        provider, processor, exporter = pipeline(cfg)
        tracer = provider.get_tracer("t")
        for _ in range(50):
            tracer.start_span("op").end()
        assert 10 == processor.buffered_traces
        assert 40 == len(exporter.get_finished_spans())
        assert 40 == processor.stats.traces_evicted
        provider.shutdown()
        assert 50 == len(exporter.get_finished_spans())

    def test_numeric_and_inverted_string_policies(self) -> None:
        """numeric_attribute ranges and invert_match work as in the Collector."""
        cfg = {
            "decision_wait": "10s",
            "policies": [
                {
                    "type": "numeric_attribute",
                    "numeric_attribute": {
                        "key": "http.response.status_code",
                        "min_value": 500,
                        "max_value": 599,
                    },
                },
                {
                    "type": "string_attribute",
                    "string_attribute": {
                        "key": "route",
                        "values": ["/health.*"],
                        "enabled_regex_matching": True,
                        "invert_match": True,
                    },
                },
            ],
        }
        provider, processor, exporter = pipeline(cfg)
        tracer = provider.get_tracer("t")
        tracer.start_span(
            "err", attributes={"http.response.status_code": 503, "route": "/healthz"}
        ).end()
        tracer.start_span(
            "health", attributes={"http.response.status_code": 200, "route": "/healthz"}
        ).end()
        tracer.start_span("other", attributes={"route": "/orders"}).end()
        processor.force_flush()
        assert ["err", "other"] == [s.name for s in exporter.get_finished_spans()]
        provider.shutdown()

    def test_from_yaml(self, tmp_path: Path) -> None:
        """The same YAML a Collector reads configures the processor."""
        path = tmp_path / "tail.yaml"
        path.write_text(
            "processors:\n  tail_sampling:\n    decision_wait: 2s\n    num_traces: 7\n    policies:\n"
            "      - name: errors\n        type: status_code\n        status_code: {status_codes: [ERROR]}\n"
        )
        import yaml

        config = yaml.safe_load(path.read_text())["processors"]
        processor = TailSamplingSpanProcessor.from_config(
            SimpleSpanProcessor(InMemorySpanExporter()), config
        )
        assert (2.0, 7, 1) == (
            processor.decision_wait,
            processor.num_traces,
            len(processor.policies),
        )
        processor.shutdown()

    def test_unknown_policy_rejected(self) -> None:
        """A typo in the policy type is an error at configuration time."""
        with pytest.raises(ValueError, match="unknown tail-sampling policy"):
            TailSamplingSpanProcessor.from_config(
                SimpleSpanProcessor(InMemorySpanExporter()), {"policies": [{"type": "nope"}]}
            )


@pytest.mark.parametrize(
    ("value", "seconds"), [("10s", 10.0), ("500ms", 0.5), ("1m", 60.0), (3, 3.0)]
)
def test_parse_duration(value: object, seconds: float) -> None:
    """Collector-style durations."""
    assert seconds == parse_duration(value)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_decides_its_own_traces() -> None:
    """After fork the child has a decision thread of its own: its traces are decided in time."""
    cfg = {"decision_wait": "50ms", "policies": [{"type": "always_sample"}]}
    provider, _, exporter = pipeline(cfg)
    tracer = provider.get_tracer("t")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report how many spans were exported without a flush
        try:
            tracer.start_span("in-child").end()
            deadline = time.monotonic() + 5
            while not exporter.get_finished_spans() and time.monotonic() < deadline:
                time.sleep(0.02)
            os.write(write, str(len(exporter.get_finished_spans())).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    exported_in_child = int(os.read(read, 16) or b"0")
    os.close(read)
    provider.shutdown()
    assert 1 == exported_in_child
