"""Settings from OTEL_* variables and keyword overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanwise.distro import BatchSettings, OtlpSettings, Settings, load_settings
from spanwise.distro._settings import OVERRIDES, mask_headers


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


POLICIES_YAML = """
decision_wait: 2s
num_traces: 100
policies:
  - name: errors
    type: status_code
    status_code: {status_codes: [ERROR]}
  - name: some
    type: probabilistic
    probabilistic: {sampling_percentage: 10}
"""


class TestTailSampling:
    def test_off_by_default(self) -> None:
        """No tail-sampling variable: no config, the head sampler is the default."""
        settings = load_settings({})
        assert (None, "parentbased_always_on", ()) == (
            settings.tail_sampling_config,
            settings.traces_sampler,
            settings.problems,
        )

    @pytest.mark.parametrize(
        "document",
        [
            POLICIES_YAML,
            "tail_sampling:\n" + "\n".join("  " + line for line in POLICIES_YAML.splitlines()),
            "processors:\n  batch: {}\n  tail_sampling/main:\n"
            + "\n".join("    " + line for line in POLICIES_YAML.splitlines()),
        ],
        ids=["processor", "nested", "collector-config"],
    )
    def test_file_in_collector_schema(self, tmp_path: Path, document: str) -> None:
        """SPANWISE_TAIL_SAMPLING reads the processor's mapping, one nested under
        tail_sampling, or a Collector configuration's processors section; the head sampler
        becomes always_on so the tail sampler sees every trace."""
        path = tmp_path / "tail.yaml"
        path.write_text(document)
        settings = load_settings({"SPANWISE_TAIL_SAMPLING": str(path)})
        config = settings.tail_sampling_config or {}
        assert ("2s", 100, ["errors", "some"], "always_on", ()) == (
            config.get("decision_wait"),
            config.get("num_traces"),
            [p["name"] for p in config.get("policies", [])],
            settings.traces_sampler,
            settings.problems,
        )

    def test_inline_json_list_of_policies(self) -> None:
        """SPANWISE_TAIL_SAMPLING_POLICIES takes inline JSON, here a bare list of policies."""
        inline = '[{"name": "slow", "type": "latency", "latency": {"threshold_ms": 500}}]'
        settings = load_settings({}, tail_sampling_policies=inline)
        assert [{"name": "slow", "type": "latency", "latency": {"threshold_ms": 500}}] == list(
            (settings.tail_sampling_config or {})["policies"]
        )

    @pytest.mark.parametrize(
        ("inline", "reason"),
        [
            ("{policies: [", "not valid YAML"),
            ("policies: []", "empty"),
            ("policies: [{name: x, type: no_such_policy}]", "policy 'x'"),
            ("decision_wait: soon\npolicies: [{name: a, type: always_sample}]", "duration"),
            ("processors: {batch: {}}", "no tail_sampling processor"),
            ("42", "expected a mapping"),
        ],
    )
    def test_unusable_config_turns_it_off(self, inline: str, reason: str) -> None:
        """A configuration that cannot be used leaves tail sampling off, with the reason."""
        settings = load_settings({"SPANWISE_TAIL_SAMPLING_POLICIES": inline})
        assert (None, True) == (
            settings.tail_sampling_config,
            any(reason in p and "tail sampling is off" in p for p in settings.problems),
        )

    def test_missing_file(self, tmp_path: Path) -> None:
        """An unreadable file leaves tail sampling off, with the reason."""
        settings = load_settings({"SPANWISE_TAIL_SAMPLING": str(tmp_path / "absent.yaml")})
        assert (None, 1) == (
            settings.tail_sampling_config,
            sum("cannot read" in p for p in settings.problems),
        )

    def test_ratio_head_sampler_warns(self) -> None:
        """A ratio head sampler the user set is kept, with a warning: tail sampling only sees
        what the head kept."""
        settings = load_settings(
            {
                "SPANWISE_TAIL_SAMPLING_POLICIES": "[{name: a, type: always_sample}]",
                "OTEL_TRACES_SAMPLER": "traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.1",
            }
        )
        assert ("traceidratio", 1) == (
            settings.traces_sampler,
            sum("only sees the traces the head sampler kept" in p for p in settings.problems),
        )

    def test_user_sampler_always_on_kept_silently(self) -> None:
        """A head sampler that keeps everything is no problem."""
        settings = load_settings(
            {
                "SPANWISE_TAIL_SAMPLING_POLICIES": "[{name: a, type: always_sample}]",
                "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            }
        )
        assert ("parentbased_always_on", ()) == (settings.traces_sampler, settings.problems)


class TestPipelineValues:
    def test_defaults(self) -> None:
        """Prometheus on 127.0.0.1:9464, guard on at 2000, retry on with the class defaults,
        no disk buffer."""
        s = load_settings({})
        assert ("127.0.0.1", 9464, False, True, 2000, True, 5, 1.0, 30.0, 2.0, None) == (
            s.exporter_prometheus_host,
            s.exporter_prometheus_port,
            s.prometheus_port_per_worker,
            s.metrics_cardinality_guard,
            s.metrics_cardinality_limit,
            s.export_retry,
            s.export_retry_max_attempts,
            s.export_retry_initial_delay,
            s.export_retry_max_delay,
            s.export_retry_multiplier,
            s.export_buffer_dir,
        )

    def test_variables_read(self) -> None:
        """Each variable sets its value."""
        s = load_settings(
            {
                "OTEL_EXPORTER_PROMETHEUS_HOST": "0.0.0.0",
                "OTEL_EXPORTER_PROMETHEUS_PORT": "9500",
                "SPANWISE_PROMETHEUS_PORT_PER_WORKER": "TRUE",
                "SPANWISE_METRICS_CARDINALITY_GUARD": "false",
                "SPANWISE_METRICS_CARDINALITY_LIMIT": "50",
                "SPANWISE_EXPORT_RETRY": "false",
                "SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS": "3",
                "SPANWISE_EXPORT_RETRY_INITIAL_DELAY": "0.5",
                "SPANWISE_EXPORT_RETRY_MAX_DELAY": "4",
                "SPANWISE_EXPORT_RETRY_MULTIPLIER": "3",
                "SPANWISE_EXPORT_BUFFER_DIR": "/var/spool/spans",
                "SPANWISE_EXPORT_BUFFER_MAX_BYTES": "1000000",
            }
        )
        expected = ("0.0.0.0", 9500, True, False, 50, False, 3, 0.5, 4.0, 3.0)
        assert expected == (
            s.exporter_prometheus_host,
            s.exporter_prometheus_port,
            s.prometheus_port_per_worker,
            s.metrics_cardinality_guard,
            s.metrics_cardinality_limit,
            s.export_retry,
            s.export_retry_max_attempts,
            s.export_retry_initial_delay,
            s.export_retry_max_delay,
            s.export_retry_multiplier,
        )
        assert ("/var/spool/spans", 1000000, ()) == (
            s.export_buffer_dir,
            s.export_buffer_max_bytes,
            s.problems,
        )

    @pytest.mark.parametrize(
        ("variable", "value", "field", "default"),
        [
            ("OTEL_EXPORTER_PROMETHEUS_PORT", "70000", "exporter_prometheus_port", 9464),
            ("OTEL_EXPORTER_PROMETHEUS_PORT", "-1", "exporter_prometheus_port", 9464),
            ("SPANWISE_PROMETHEUS_PORT_PER_WORKER", "yes", "prometheus_port_per_worker", False),
            ("SPANWISE_METRICS_CARDINALITY_LIMIT", "0", "metrics_cardinality_limit", 2000),
            ("SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS", "0", "export_retry_max_attempts", 5),
            ("SPANWISE_EXPORT_RETRY_INITIAL_DELAY", "nan", "export_retry_initial_delay", 1.0),
            ("SPANWISE_EXPORT_RETRY_MAX_DELAY", "inf", "export_retry_max_delay", 30.0),
            ("SPANWISE_EXPORT_RETRY_MULTIPLIER", "0.5", "export_retry_multiplier", 2.0),
            ("SPANWISE_EXPORT_BUFFER_MAX_BYTES", "0", "export_buffer_max_bytes", 64 << 20),
        ],
    )
    def test_unusable_values_fall_back(
        self, variable: str, value: str, field: str, default: object
    ) -> None:
        """An unusable value gives the default and one problem naming the variable."""
        s = load_settings({variable: value})
        assert (default, 1) == (
            getattr(s, field),
            sum(p.startswith(variable) for p in s.problems),
        )

    def test_every_override_is_a_settings_field(self) -> None:
        """Each CLI option / keyword of the pipeline names a field (docs read them so)."""
        s = load_settings({})
        keys = [k for k in OVERRIDES if k.startswith(("tail_", "export_r", "export_b"))]
        keys += [k for k in OVERRIDES if "prometheus" in k or "cardinality" in k]
        assert [] == [k for k in keys if not hasattr(s, k)]

    def test_keywords(self) -> None:
        """Keyword overrides take Python values."""
        s = load_settings(
            {}, prometheus_port_per_worker=True, exporter_prometheus_port=0, export_retry=False
        )
        assert (True, 0, False) == (
            s.prometheus_port_per_worker,
            s.exporter_prometheus_port,
            s.export_retry,
        )
