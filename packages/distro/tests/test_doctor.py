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


class TestRunDoctor:
    def test_prints_verdict(self) -> None:
        """The last line is the verdict; the return value the exit code."""
        out = io.StringIO()
        code = run_doctor(out, {"OTEL_SDK_DISABLED": "true"})
        assert (1, "Verdict: telemetry would NOT flow") == (code, out.getvalue().splitlines()[-1])
