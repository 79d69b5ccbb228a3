"""spanwise doctor: findings and exit code."""

from __future__ import annotations

import io

import pytest

from spanwise.distro._doctor import diagnose, endpoint_problem, run_doctor

GOOD = {"OTEL_SERVICE_NAME": "shop", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}


class TestEndpoint:
    @pytest.mark.parametrize(
        ("endpoint", "protocol"),
        [("http://c:4318/v1/traces", "http/protobuf"), ("c:4317", "grpc"), ("https://c", "grpc")],
    )
    def test_usable(self, endpoint: str, protocol: str) -> None:
        """URLs, and host:port for gRPC, are fine."""
        assert endpoint_problem(endpoint, protocol) is None

    @pytest.mark.parametrize(
        "endpoint", ["collector:4318/v1/traces", "http://c:notaport", "http:///v1/traces"]
    )
    def test_unusable(self, endpoint: str) -> None:
        """No scheme, a bad port or no host is a problem for OTLP/HTTP."""
        assert endpoint_problem(endpoint, "http/protobuf") is not None


class TestDiagnose:
    def test_good_configuration_flows(self) -> None:
        """A plain OTLP configuration: exit code 0, effective config printed."""
        report = diagnose(GOOD)
        assert (0, []) == (report.exit_code, report.errors)
        assert "  service.name: shop" in report.lines

    def test_headers_masked(self) -> None:
        """OTLP header values never appear in the output."""
        report = diagnose({**GOOD, "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20s3cr3t"})
        text = "\n".join(report.lines)
        assert ("s3cr3t" in text, "authorization=***" in text) == (False, True)

    @pytest.mark.parametrize(
        ("environ", "error"),
        [
            ({"OTEL_SDK_DISABLED": "true"}, "OTEL_SDK_DISABLED=true"),
            (
                {
                    "OTEL_TRACES_EXPORTER": "none",
                    "OTEL_METRICS_EXPORTER": "none",
                    "OTEL_LOGS_EXPORTER": "none",
                },
                "every exporter is none",
            ),
            ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:99999"}, "traces: unparsable"),
        ],
    )
    def test_blocking_problems(self, environ: dict[str, str], error: str) -> None:
        """Disabled SDK, all exporters none, an unparsable endpoint: non-zero exit."""
        report = diagnose(environ)
        assert (1, True) == (report.exit_code, any(e.startswith(error) for e in report.errors))

    def test_plugins_and_conflicts_listed(self) -> None:
        """Installed plugins are listed; the contrib plugin for the same library is a warning."""
        report = diagnose(GOOD)
        assert any(
            line.startswith("  flask: spanwise-instrumentation-flask") for line in report.lines
        )
        assert any(w.startswith("opentelemetry-instrumentation-flask") for w in report.warnings)

    def test_disabled_plugin_reported(self) -> None:
        """A plugin disabled by the environment says so."""
        report = diagnose({**GOOD, "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "flask"})
        line = next(x for x in report.lines if x.startswith("  flask:"))
        assert line.endswith("disabled (OTEL_PYTHON_DISABLED_INSTRUMENTATIONS)")


class TestPipelineLines:
    def test_defaults_listed(self) -> None:
        """By default: tail sampling off, guard on at 2000, retry on, no disk buffer."""
        lines = diagnose(GOOD).lines
        expected = [
            "  tail sampling: off",
            "  metric cardinality guard: on, 2000 attribute sets",
            "  span export retry: on, 5 attempts, delay 1s x2 up to 30s",
            "  span disk buffer: off",
        ]
        assert expected == [line for line in expected if line in lines]

    def test_pipeline_configuration_shown(self) -> None:
        """Tail sampling policies, the Prometheus endpoint and the disk buffer are shown; the
        head sampler is always_on under tail sampling."""
        report = diagnose(
            {
                **GOOD,
                "OTEL_METRICS_EXPORTER": "prometheus",
                "OTEL_EXPORTER_PROMETHEUS_PORT": "9500",
                "SPANWISE_TAIL_SAMPLING_POLICIES": "[{name: errors, type: status_code, "
                "status_code: {status_codes: [ERROR]}}]",
                "SPANWISE_EXPORT_BUFFER_DIR": "/var/spool/spans",
            }
        )
        expected = [
            "  sampler: always_on",
            "  tail sampling: on, from SPANWISE_TAIL_SAMPLING_POLICIES: decision_wait 10s, "
            "num_traces 50000, policies: errors (status_code)",
            "  prometheus endpoint: http://127.0.0.1:9500/metrics (served by the process that "
            "configures the SDK)",
            "  span disk buffer: /var/spool/spans/<pid> (at most 67108864 bytes per process)",
        ]
        assert (expected, 0) == (
            [line for line in expected if line in report.lines],
            report.exit_code,
        )

    def test_unusable_tail_sampling_warns(self) -> None:
        """An unusable tail-sampling file is a warning and shown as OFF."""
        report = diagnose({**GOOD, "SPANWISE_TAIL_SAMPLING": "/nonexistent/tail.yaml"})
        assert (True, 1) == (
            "  tail sampling: OFF (its configuration cannot be used; see the warnings)"
            in report.lines,
            sum("SPANWISE_TAIL_SAMPLING: cannot read" in w for w in report.warnings),
        )


class TestRunDoctor:
    def test_prints_verdict(self) -> None:
        """The last line is the verdict; the return value the exit code."""
        out = io.StringIO()
        code = run_doctor(out, {"OTEL_SDK_DISABLED": "true"})
        assert (1, "Verdict: telemetry would NOT flow") == (code, out.getvalue().splitlines()[-1])
