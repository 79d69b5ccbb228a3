"""A program run under spanwise-instrument exports spans, metrics and logs over OTLP."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spanwise.core.testing import OtlpReceiver, Received

pytestmark = pytest.mark.e2e

SAMPLE = textwrap.dedent(
    """
    import os
    from opentelemetry import _logs, metrics, trace
    from opentelemetry._logs import SeverityNumber

    tracer = trace.get_tracer("sample")
    counter = metrics.get_meter("sample").create_counter("sample.operations")
    log = _logs.get_logger("sample")
    for i in range(200):
        with tracer.start_as_current_span("work") as span:
            span.set_attribute("work.index", i)
            counter.add(1)
    with tracer.start_as_current_span("logged"):
        log.emit(body="hello from sample", severity_number=SeverityNumber.INFO)
    print("PID", os.getpid(), flush=True)
    """
)

TRACE_ID_LIMIT = (1 << 64) - 1


def run_sample(tmp_path: Path, env: dict[str, str], *options: str) -> int:
    """Run the sample under spanwise-instrument; returns the sample's pid."""
    app = tmp_path / "sample.py"
    app.write_text(SAMPLE)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "spanwise-instrument"), *options, "python", str(app)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == proc.returncode, proc.stderr
    return int(proc.stdout.split("PID", 1)[1].split()[0])


def operations_total(received: Received) -> int:
    total = 0
    for _, _, metric in received.metrics:
        if metric.name == "sample.operations":
            total = max(total, sum(p.as_int for p in metric.sum.data_points))
    return total


class TestOtlpHttp:
    def test_spans_metrics_and_logs_arrive_with_resource_and_ratio_sampler(
        self, tmp_path: Path, otlp: OtlpReceiver, child_env: dict[str, str]
    ) -> None:
        """Over OTLP/HTTP: the ratio sampler keeps part of the traces, every metric point and
        the log arrive, all with the configured resource and headers."""
        child_env.update(
            OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=test,team=core%20infra",
            OTEL_TRACES_SAMPLER="traceidratio",
            OTEL_TRACES_SAMPLER_ARG="0.5",
            OTEL_EXPORTER_OTLP_HEADERS="x-tenant=acme",
        )
        pid = run_sample(
            tmp_path,
            child_env,
            "--service-name",
            "sample-http",
            "--exporter-otlp-endpoint",
            otlp.http_endpoint,
            "--exporter-otlp-protocol",
            "http/protobuf",
        )
        assert otlp.wait_for(lambda r: operations_total(r) == 200 and bool(r.logs))
        received = otlp.received
        work = [span for _, _, span in received.spans if span.name == "work"]
        bound = round(0.5 * (TRACE_ID_LIMIT + 1))
        assert 0 < len(work) < 200
        assert all(int.from_bytes(s.trace_id, "big") & TRACE_ID_LIMIT < bound for s in work)
        for resource, _, _ in received.spans + received.metrics + received.logs:
            expected = {
                "service.name": "sample-http",
                "deployment.environment.name": "test",
                "team": "core infra",
                "process.pid": pid,
            }
            assert expected == {k: resource.get(k) for k in expected}
        assert ["hello from sample"] == [r.body.string_value for _, _, r in received.logs]
        assert {"http"} == received.transports
        assert all(h.get("x-tenant") == "acme" for h in received.headers)


class TestOtlpGrpc:
    def test_spans_metrics_and_logs_arrive_over_grpc(
        self, tmp_path: Path, otlp: OtlpReceiver, child_env: dict[str, str]
    ) -> None:
        """Over OTLP/gRPC with the default parent-based always-on sampler every span arrives,
        and the log record carries the trace id of the span it was emitted in."""
        child_env.update(
            OTEL_SERVICE_NAME="sample-grpc",
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp.grpc_endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
            OTEL_EXPORTER_OTLP_HEADERS="x-tenant=acme",
        )
        run_sample(tmp_path, child_env)
        assert otlp.wait_for(lambda r: operations_total(r) == 200 and bool(r.logs))
        received = otlp.received
        assert otlp.wait_for(lambda r: len(r.spans) == 201)
        assert 200 == sum(1 for _, _, s in received.spans if s.name == "work")
        logged = next(s for _, _, s in received.spans if s.name == "logged")
        assert [logged.trace_id] == [r.trace_id for _, _, r in received.logs]
        assert {"sample-grpc"} == {res["service.name"] for res, _, _ in received.spans}
        assert {"grpc"} == received.transports
        assert all(h.get("x-tenant") == "acme" for h in received.headers)
