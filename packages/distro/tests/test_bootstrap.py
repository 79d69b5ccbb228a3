"""Deciding which plugins suit the installed libraries, and which installer to use."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from spanwise.distro import CATALOG, CatalogEntry
from spanwise.distro._bootstrap import Plan, installer_command, main, plan, uv_environment

CATALOG_SAMPLE = (
    CatalogEntry("spanwise-instrumentation-flask", ("flask>=2.2,<4",)),
    CatalogEntry("spanwise-instrumentation-structlog", ("structlog>=23.1,<27",)),
    CatalogEntry("spanwise-instrumentation-redis", ("redis>=4.5,<9",)),
    CatalogEntry("spanwise-instrumentation-django", ("django>=4.2,<7",)),
    CatalogEntry("spanwise-instrumentation-logging", ()),
)


class TestPlan:
    def test_install_present_skip_and_absent(self) -> None:
        """Supported libraries get their plugin; installed plugins are kept; out-of-range
        libraries are skipped with the reason; absent libraries are not mentioned."""
        installed = {
            "flask": "3.0.3",
            "structlog": "22.3.0",
            "redis": "5.0.8",
            "spanwise-instrumentation-redis": "0.1.0",
        }
        expected = Plan(
            install=(
                (
                    "spanwise-instrumentation-flask",
                    "flask 3.0.3 is installed (supported: flask>=2.2,<4)",
                ),
                ("spanwise-instrumentation-logging", "instruments the standard library"),
            ),
            present=(
                (
                    "spanwise-instrumentation-redis",
                    "redis 5.0.8 is installed (supported: redis>=4.5,<9)",
                ),
            ),
            skipped=(
                (
                    "spanwise-instrumentation-structlog",
                    "structlog 22.3.0 is outside the supported range >=23.1,<27",
                ),
            ),
        )
        assert expected == plan(installed, CATALOG_SAMPLE)

    def test_requirements_cover_install_and_present(self) -> None:
        """The requirements list both what will be installed and what already is."""
        result = plan({"flask": "3.1.0", "spanwise-instrumentation-flask": "0.1.0"}, CATALOG)
        assert ["spanwise-instrumentation-flask", "spanwise-instrumentation-logging"] == (
            result.requirements
        )

    def test_names_are_canonical(self) -> None:
        """Installed names are compared canonically (Confluent_Kafka == confluent-kafka)."""
        result = plan({"confluent-kafka": "2.8.0"}, CATALOG)
        assert "spanwise-instrumentation-confluent-kafka" in result.requirements

    def test_unparsable_version_skipped(self) -> None:
        """A library with a version we cannot read is skipped, not guessed."""
        result = plan({"flask": "not.a.version!"}, CATALOG_SAMPLE)
        assert ("spanwise-instrumentation-flask",) == tuple(n for n, _ in result.skipped)


class TestInstaller:
    def test_uv_environment(self, tmp_path: Path) -> None:
        """A pyvenv.cfg with a uv line marks a uv environment; venv's does not."""
        uv_env, pip_env = tmp_path / "a", tmp_path / "b"
        uv_env.mkdir()
        pip_env.mkdir()
        (uv_env / "pyvenv.cfg").write_text("home = /usr/bin\nuv = 0.13.9\n")
        (pip_env / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
        expected = (True, False, False)
        actual = (
            uv_environment(str(uv_env)),
            uv_environment(str(pip_env)),
            uv_environment(str(tmp_path / "none")),
        )
        assert expected == actual

    def test_pip_command(self) -> None:
        """pip runs as this interpreter's module, so it installs into this environment."""
        assert [sys.executable, "-m", "pip", "install"] == installer_command("pip")


class TestMain:
    def test_requirements_action(self, capsys: pytest.CaptureFixture[str]) -> None:
        """-a requirements prints one plugin per line (here: every library is installed)."""
        assert 0 == main(["-a", "requirements"])
        out, err = capsys.readouterr()
        assert sorted(e.distribution for e in CATALOG) == out.split()
        assert "already installed" in err
