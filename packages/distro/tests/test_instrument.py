"""The spanwise-instrument command line."""

from __future__ import annotations

import os
from pathlib import Path

from spanwise.distro._autoinit import AUTO_DIR
from spanwise.distro._instrument import build_environment, parser


class TestParser:
    def test_options_before_command(self) -> None:
        """Options are ours until the command; everything after it belongs to the command."""
        options = parser().parse_args(
            ["--service-name", "shop", "--traces-sampler", "always_off", "gunicorn", "-w", "3",
             "--service-name", "not-ours"]
        )  # fmt: skip
        expected = ("shop", "always_off", "gunicorn", ["-w", "3", "--service-name", "not-ours"])
        actual = (options.service_name, options.traces_sampler, options.command, options.args)
        assert expected == actual


class TestEnvironment:
    def test_options_override_variables_and_pythonpath_first(self) -> None:
        """Options set their variables over the environment; our directory leads PYTHONPATH
        once, the user's entries follow."""
        options = parser().parse_args(["--exporter-otlp-protocol", "grpc", "python"])
        env = build_environment(
            options,
            {
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_SERVICE_NAME": "kept",
                "PYTHONPATH": os.pathsep.join([AUTO_DIR, "/user/lib"]),
            },
        )
        expected = ("grpc", "kept", os.pathsep.join([AUTO_DIR, "/user/lib"]))
        actual = (env["OTEL_EXPORTER_OTLP_PROTOCOL"], env["OTEL_SERVICE_NAME"], env["PYTHONPATH"])
        assert expected == actual

    def test_auto_dir_holds_sitecustomize(self) -> None:
        """The directory we prepend holds our sitecustomize and is not a package."""
        auto = Path(AUTO_DIR)
        assert ((auto / "sitecustomize.py").is_file(), (auto / "__init__.py").exists()) == (
            True,
            False,
        )


class TestPipelineOptions:
    def test_pipeline_options_set_their_variables(self) -> None:
        """The production-pipeline options exist and set the variables they name."""
        options = parser().parse_args(
            ["--tail-sampling", "/etc/tail.yaml", "--exporter-prometheus-port", "9500",
             "--prometheus-port-per-worker", "true", "--metrics-cardinality-limit", "500",
             "--export-retry-max-attempts", "3", "--export-buffer-dir", "/var/spool/spans",
             "python"]
        )  # fmt: skip
        env = build_environment(options, {})
        expected = {
            "SPANWISE_TAIL_SAMPLING": "/etc/tail.yaml",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "9500",
            "SPANWISE_PROMETHEUS_PORT_PER_WORKER": "true",
            "SPANWISE_METRICS_CARDINALITY_LIMIT": "500",
            "SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS": "3",
            "SPANWISE_EXPORT_BUFFER_DIR": "/var/spool/spans",
        }
        assert expected == {k: env.get(k) for k in expected}
