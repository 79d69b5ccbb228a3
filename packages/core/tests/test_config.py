"""Options: the OTEL_* and SPANWISE_* variables, overridden by keywords."""

from __future__ import annotations

import pytest

from spanwise.core import ExcludedUrls, HeaderCapture, Options, disabled_instrumentations


class TestOptions:
    def test_excluded_urls_from_generic_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """OTEL_PYTHON_EXCLUDED_URLS applies to every plugin."""
        monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "healthz,/metrics$")
        options = Options.build("flask", {})
        assert (
            options.excluded_urls.match("http://h/healthz"),
            options.excluded_urls.match("http://h/metrics"),
            options.excluded_urls.match("http://h/metrics/x"),
        ) == (True, True, False)

    def test_plugin_variable_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """OTEL_PYTHON_<NAME>_EXCLUDED_URLS replaces the generic one for that plugin."""
        monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "a")
        monkeypatch.setenv("OTEL_PYTHON_FLASK_EXCLUDED_URLS", "b")
        options = Options.build("flask", {})
        assert (
            options.excluded_urls.match("/a"),
            options.excluded_urls.match("/b"),
        ) == (False, True)

    def test_keyword_overrides_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Keyword options beat the environment."""
        monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "a")
        options = Options.build("flask", {"excluded_urls": "c"})
        assert options.excluded_urls.patterns == ("c",)

    def test_header_capture_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Captured header names and sanitized fields come from the standard variables."""
        monkeypatch.setenv(
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-request-id,x-secret-.*"
        )
        monkeypatch.setenv(
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS", "x-secret-.*"
        )
        options = Options.build("django", {})
        headers = [("X-Request-Id", "r1"), ("x-secret-key", "k"), ("other", "o")]
        assert options.server_request_headers.attributes(headers) == {
            "http.request.header.x_request_id": ["r1"],
            "http.request.header.x_secret_key": ["[REDACTED]"],
        }

    def test_plugin_option_get(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Plugin options: keyword, else variable (typed by the default), else default."""
        monkeypatch.setenv("SPANWISE_X_FLAG", "true")
        monkeypatch.setenv("SPANWISE_X_NUM", "7")
        options = Options.build("x", {"given": 3})
        assert (
            options.get("given", 0),
            options.get("flag", False, env="SPANWISE_X_FLAG"),
            options.get("num", 1, env="SPANWISE_X_NUM"),
            options.get("missing", "d", env="SPANWISE_X_MISSING"),
        ) == (3, True, 7, "d")


class TestHeaderCapture:
    def test_credentials_never_captured_by_default(self) -> None:
        """Authorization and cookies are redacted even when every header is captured."""
        capture = HeaderCapture([".*"], "http.request.header.")
        assert capture.attributes(
            [("Authorization", "Bearer t"), ("Cookie", "s=1"), ("Accept", "*/*")]
        ) == {
            "http.request.header.authorization": ["[REDACTED]"],
            "http.request.header.cookie": ["[REDACTED]"],
            "http.request.header.accept": ["*/*"],
        }

    def test_opt_in_to_sensitive_headers(self) -> None:
        """Users can opt in to recording credentials."""
        capture = HeaderCapture(["authorization"], "p.", capture_sensitive=True)
        assert capture.attributes([("authorization", "Bearer t")]) == {
            "p.authorization": ["Bearer t"]
        }

    def test_repeated_headers_and_value_cap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Repeated headers keep every value; values are capped."""
        monkeypatch.setenv("SPANWISE_MAX_ATTRIBUTE_LENGTH", "16")
        capture = HeaderCapture(["x-a"], "p.")
        assert capture.attributes([("x-a", "1"), ("X-A", "y" * 100)]) == {"p.x_a": ["1", "y" * 16]}


class TestMisc:
    def test_disabled_instrumentations(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A comma-separated, case-insensitive list."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", " Flask ,redis,")
        assert frozenset({"flask", "redis"}) == disabled_instrumentations()

    def test_empty_excluded_urls_match_nothing(self) -> None:
        """No patterns: nothing is excluded."""
        assert not ExcludedUrls([]).match("/anything")
