"""spanwise.instrumentation.requests._instrumentor."""

from typing import Any

import pytest
import requests
import requests.sessions

from spanwise.instrumentation.requests import RequestsInstrumentor


class TestRequestsInstrumentor:
    def test_patches_session_send(self, instrument: Any) -> None:
        """instrument() wraps Session.send in place (same class, new attribute)."""
        original = requests.sessions.Session.__dict__["send"]
        instrument()
        assert original is not requests.sessions.Session.__dict__["send"]
        assert requests.Session is requests.sessions.Session

    def test_uninstrument_restores_the_original(self, instrument: Any) -> None:
        """uninstrument() puts back the exact original Session.send."""
        original = requests.sessions.Session.__dict__["send"]
        instrument().uninstrument()
        assert original is requests.sessions.Session.__dict__["send"]

    def test_no_spans_after_uninstrument(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """Requests sent after uninstrument() are not traced."""
        instrument().uninstrument()
        requests.get(f"{http_server}/echo", timeout=5)
        assert [] == telemetry.spans()

    def test_session_made_before_instrument_is_traced(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """A Session created before instrument() is traced afterwards (methods are patched)."""
        session = requests.Session()
        instrument()
        session.get(f"{http_server}/echo", timeout=5)
        assert ["GET"] == [s.name for s in telemetry.spans()]

    def test_instrument_twice_patches_once(self, instrument: Any) -> None:
        """A second instrument() call changes nothing."""
        instrument()
        patched = requests.sessions.Session.__dict__["send"]
        instrument()
        assert patched is requests.sessions.Session.__dict__["send"]

    def test_disabled_by_environment(
        self, instrument: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=requests leaves requests untouched."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "requests")
        original = requests.sessions.Session.__dict__["send"]
        assert instrument().is_instrumented is False
        assert original is requests.sessions.Session.__dict__["send"]

    def test_singleton(self) -> None:
        """Every RequestsInstrumentor() is the same object."""
        assert RequestsInstrumentor() is RequestsInstrumentor()
