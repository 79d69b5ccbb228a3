"""Settings from OTEL_* variables and keyword overrides."""

from __future__ import annotations

import pytest

from spanwise.distro import BatchSettings, OtlpSettings, Settings, load_settings
from spanwise.distro._settings import mask_headers


class TestDefaults:
    def test_empty_environment(self) -> None:
        """With no variables: parent-based always-on, W3C propagators, OTLP/HTTP on localhost."""
        settings = load_settings({})
        expected = Settings(
            otlp={
                signal: OtlpSettings(
                    f"http://localhost:4318/v1/{signal}", "http/protobuf", {}, 10.0
                )
                for signal in ("traces", "metrics", "logs")
            }
        )
        assert expected == settings


class TestOtlp:
    def test_base_endpoint_gets_signal_paths_for_http(self) -> None:
        """OTEL_EXPORTER_OTLP_ENDPOINT is a base URL for http/protobuf."""
        settings = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
        assert "http://collector:4318/v1/metrics" == settings.otlp["metrics"].endpoint

    def test_signal_endpoint_used_as_given(self) -> None:
        """A per-signal endpoint is used verbatim and wins over the base one."""
        settings = load_settings(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/custom",
            }
        )
        expected = ("https://traces.example/custom", "http://collector:4318/v1/logs")
        assert expected == (settings.otlp["traces"].endpoint, settings.otlp["logs"].endpoint)

    def test_grpc_endpoint_and_default_port(self) -> None:
        """For grpc the endpoint has no path, and defaults to port 4317."""
        settings = load_settings(
            {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "h:1"}
        )
        expected = ("grpc", "http://localhost:4317", "h:1")
        actual = (
            settings.otlp["traces"].protocol,
            settings.otlp["traces"].endpoint,
            settings.otlp["logs"].endpoint,
        )
        assert expected == actual

    def test_signal_protocol_wins(self) -> None:
        """OTEL_EXPORTER_OTLP_METRICS_PROTOCOL overrides the general protocol for metrics."""
        settings = load_settings(
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/protobuf",
            }
        )
        expected = ("grpc", "http/protobuf")
        assert expected == (settings.otlp["traces"].protocol, settings.otlp["metrics"].protocol)

    def test_headers_merge_and_decode(self) -> None:
        """Headers are URL-decoded; per-signal headers are added to and override general ones."""
        settings = load_settings(
            {
                "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc,x-a=1",
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-a=2",
            }
        )
        expected = {"authorization": "Bearer abc", "x-a": "2"}
        assert expected == dict(settings.otlp["traces"].headers)

    def test_timeout_milliseconds(self) -> None:
        """Timeouts are read in milliseconds (the specification's unit) and kept in seconds."""
        settings = load_settings(
            {"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "500"}
        )
        assert (2.5, 0.5) == (settings.otlp["traces"].timeout, settings.otlp["logs"].timeout)

    def test_insecure_unless_https(self) -> None:
        """gRPC uses plaintext unless the endpoint is https."""
        plain = OtlpSettings("http://h:4317", "grpc", {}, 1.0)
        tls = OtlpSettings("HTTPS://h:4317", "grpc", {}, 1.0)
        assert (True, False) == (plain.insecure, tls.insecure)


class TestHostileValues:
    def test_unknown_values_fall_back_with_problems(self) -> None:
        """Unknown sampler, protocol, exporter and a bad number are replaced by defaults and
        reported, never raised."""
        settings = load_settings(
            {
                "OTEL_TRACES_SAMPLER": "sometimes",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                "OTEL_TRACES_EXPORTER": "jaeger",
                "OTEL_BSP_MAX_QUEUE_SIZE": "lots",
                "OTEL_RESOURCE_ATTRIBUTES": "ok=1,broken",
            }
        )
        expected = ("parentbased_always_on", "http/protobuf", ("otlp",), 2048, {"ok": "1"})
        actual = (
            settings.traces_sampler,
            settings.otlp["traces"].protocol,
            settings.traces_exporter,
            settings.bsp.max_queue_size,
            dict(settings.resource_attributes),
        )
        assert expected == actual
        assert 7 == len(settings.problems)  # protocol once per signal

    @pytest.mark.parametrize("arg", ["2", "-0.1", "half"])
    def test_ratio_out_of_range(self, arg: str) -> None:
        """A ratio outside [0, 1] or not a number becomes 1.0."""
        settings = load_settings(
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": arg}
        )
        assert (1.0, 1) == (settings.traces_sampler_arg, len(settings.problems))

    def test_batch_larger_than_queue(self) -> None:
        """The export batch never exceeds the queue."""
        settings = load_settings(
            {"OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "50"}
        )
        assert BatchSettings(5000, 10, 10, 30000) == settings.bsp


class TestLists:
    def test_exporters_are_lists(self) -> None:
        """Several exporters may be named; none next to another is dropped; duplicates too."""
        settings = load_settings(
            {"OTEL_TRACES_EXPORTER": "console, otlp,console", "OTEL_LOGS_EXPORTER": "none,console"}
        )
        assert (("console", "otlp"), ("console",)) == (
            settings.traces_exporter,
            settings.logs_exporter,
        )

    def test_propagators(self) -> None:
        """OTEL_PROPAGATORS is read in order, case-insensitively."""
        settings = load_settings({"OTEL_PROPAGATORS": "B3multi,tracecontext"})
        assert ("b3multi", "tracecontext") == settings.propagators


class TestOverrides:
    def test_keywords_win_over_environment(self) -> None:
        """Keyword overrides replace the variables they stand for; mappings and lists too."""
        settings = load_settings(
            {"OTEL_SERVICE_NAME": "env", "OTEL_TRACES_SAMPLER": "always_off"},
            service_name="kw",
            resource_attributes={"team": "a b", "x": "1"},
            traces_exporter=["console"],
            sdk_disabled=True,
        )
        expected = ("kw", {"team": "a b", "x": "1"}, ("console",), "always_off", True)
        actual = (
            settings.service_name,
            dict(settings.resource_attributes),
            settings.traces_exporter,
            settings.traces_sampler,
            settings.sdk_disabled,
        )
        assert expected == actual

    def test_unknown_keyword_raises(self) -> None:
        """A misspelt keyword is a programming error: TypeError."""
        with pytest.raises(TypeError, match="servce_name"):
            load_settings({}, servce_name="x")


class TestMaskHeaders:
    def test_values_hidden(self) -> None:
        """Names stay, values never show."""
        assert {"authorization": "***"} == mask_headers({"authorization": "Bearer secret"})
