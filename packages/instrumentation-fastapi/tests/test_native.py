"""NativeTelemetrySwitch: FastAPI's built-in server span and metrics off, and back on."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette

from spanwise.instrumentation.fastapi._native import NativeTelemetrySwitch

native = pytest.mark.skipif(
    not hasattr(FastAPI(), "_telemetry"), reason="FastAPI's own telemetry arrived in 0.142"
)


class TestNativeTelemetrySwitch:
    """Per-app suppression of FastAPI's duplicate telemetry."""

    @native
    def test_suppress_turns_off_tracing_and_metrics_only(self) -> None:
        """Tracing and metrics go off; logs stay as they were."""
        app = FastAPI()
        assert NativeTelemetrySwitch().suppress(app)
        assert (False, False, True) == tuple(
            app._telemetry[k] for k in ("tracing", "metrics", "logs")
        )

    @native
    def test_restore_puts_back_the_users_settings(self) -> None:
        """Restore brings back exactly what the app was created with, even after two suppresses."""
        app = FastAPI(telemetry={"tracing": True, "metrics": False})
        switch = NativeTelemetrySwitch()
        switch.suppress(app)
        switch.suppress(app)
        switch.restore_all()
        assert (True, False) == (app._telemetry["tracing"], app._telemetry["metrics"])

    def test_apps_without_native_telemetry_are_untouched(self) -> None:
        """A Starlette app has nothing to suppress."""
        app = Starlette()
        switch = NativeTelemetrySwitch()
        assert not switch.suppress(app)
        switch.restore(app)
        assert not hasattr(app, "_telemetry")
