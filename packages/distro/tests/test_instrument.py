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
