"""The spanwise umbrella command."""

from __future__ import annotations

import pytest

from spanwise.distro._cli import main


class TestMain:
    def test_doctor_exit_code(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """spanwise doctor exits 1 when the SDK is disabled."""
        monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
        assert 1 == main(["doctor"])
        assert "Verdict: telemetry would NOT flow" in capsys.readouterr().out

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--version prints the distribution version."""
        with pytest.raises(SystemExit) as exit_info:
            main(["--version"])
        assert (0, "spanwise-distro 0.1.0\n") == (exit_info.value.code, capsys.readouterr().out)

    def test_command_required(self) -> None:
        """No subcommand is a usage error (exit 2)."""
        with pytest.raises(SystemExit) as exit_info:
            main([])
        assert 2 == exit_info.value.code
