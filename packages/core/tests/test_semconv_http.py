"""HTTP helpers: methods, URL redaction, status rules and attributes from environ or scope."""

from __future__ import annotations

import pytest
from opentelemetry.trace import StatusCode

from spanwise.core.semconv import (
    client_status,
    error_type,
    normalize_method,
    redact_query,
    redact_url,
    server_attributes_from_environ,
    server_attributes_from_scope,
    server_span_name,
    server_status,
    split_host_port,
)

REDACT_QUERY_TABLE = [
    ("", ""),
    ("a=1&b=2", "a=1&b=2"),
    ("sig=abc&x=1", "sig=REDACTED&x=1"),
    ("X-Amz-Signature=s3cr3t&X-Amz-Date=20240101", "X-Amz-Signature=REDACTED&X-Amz-Date=20240101"),
    ("AWSAccessKeyId=AKIA&Signature=zz&Expires=1", "AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1"),
    ("password=hunter2", "password=REDACTED"),
    ("token=t&tokens=keep", "token=REDACTED&tokens=keep"),
    ("q=signature", "q=signature"),
    ("flag&token", "flag&token"),
    ("a=1&&b=2", "a=1&&b=2"),
]  # fmt: skip

REDACT_URL_TABLE = [
    ("https://example.com/p?q=1", "https://example.com/p?q=1"),
    ("https://user:pass@example.com/p", "https://REDACTED:REDACTED@example.com/p"),
    ("http://u@h:8080/?token=abc#frag", "http://REDACTED:REDACTED@h:8080/?token=REDACTED#frag"),
    ("https://h/path@not-userinfo", "https://h/path@not-userinfo"),
    ("/relative?sig=1", "/relative?sig=REDACTED"),
]  # fmt: skip


class TestRedaction:
    @pytest.mark.parametrize(("query", "expected"), REDACT_QUERY_TABLE)
    def test_redact_query_table(self, query: str, expected: str) -> None:
        """Only the values of sensitive keys change; order and everything else are kept."""
        assert expected == redact_query(query)

    @pytest.mark.parametrize(("url", "expected"), REDACT_URL_TABLE)
    def test_redact_url_table(self, url: str, expected: str) -> None:
        """Credentials in the authority and sensitive query values are hidden."""
        assert expected == redact_url(url)

    def test_extra_keys_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SPANWISE_URL_REDACT_QUERY_KEYS adds keys."""
        monkeypatch.setenv("SPANWISE_URL_REDACT_QUERY_KEYS", "session_id")
        assert redact_query("session_id=42&a=1") == "session_id=REDACTED&a=1"


class TestMethods:
    @pytest.mark.parametrize(
        ("method", "expected"),
        [("GET", "GET"), ("get", "GET"), ("PATCH", "PATCH"), ("FOO", "_OTHER"), ("", "_OTHER")],
    )
    def test_normalize(self, method: str, expected: str) -> None:
        """Known methods pass, unknown ones become _OTHER."""
        assert expected == normalize_method(method)

    def test_known_methods_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS replaces the known set."""
        monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS", "GET,PURGE")
        assert (normalize_method("PURGE"), normalize_method("POST")) == ("PURGE", "_OTHER")

    def test_span_names(self) -> None:
        """{METHOD} {route}, {METHOD} alone, and HTTP for unknown methods."""
        assert [
            server_span_name("GET", "/u/{id}"),
            server_span_name("GET", None),
            server_span_name("_OTHER", "/x"),
            server_span_name("_OTHER", None),
        ] == ["GET /u/{id}", "GET", "HTTP /x", "HTTP"]


class TestStatus:
    @pytest.mark.parametrize(
        ("code", "server", "client"),
        [
            (200, StatusCode.UNSET, StatusCode.UNSET),
            (302, StatusCode.UNSET, StatusCode.UNSET),
            (404, StatusCode.UNSET, StatusCode.ERROR),
            (500, StatusCode.ERROR, StatusCode.ERROR),
            (503, StatusCode.ERROR, StatusCode.ERROR),
            (42, StatusCode.ERROR, StatusCode.ERROR),
        ],
    )
    def test_status_rules(self, code: int, server: StatusCode, client: StatusCode) -> None:
        """Servers: 5xx is an error and 4xx is not; clients: both are."""
        assert (server, client) == (server_status(code)[0], client_status(code)[0])

    def test_error_type(self) -> None:
        """Builtins by class name, others fully qualified."""
        import json

        try:
            json.loads("{")
        except json.JSONDecodeError as exc:
            decode_error = exc
        assert (
            error_type(KeyError()),
            error_type(decode_error),
        ) == ("KeyError", "json.decoder.JSONDecodeError")


class TestHostPort:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("example.com", ("example.com", None)),
            ("example.com:8080", ("example.com", 8080)),
            ("[::1]:443", ("::1", 443)),
            ("[::1]", ("::1", None)),
            ("::1", ("::1", None)),
            ("h:notaport", ("h", None)),
            ("h:99999", ("h", None)),
        ],
    )
    def test_split(self, value: str, expected: tuple[str, int | None]) -> None:
        """Host and port from a Host header, IPv6 included, bad ports dropped."""
        assert expected == split_host_port(value)


class TestServerAttributes:
    def test_from_environ(self) -> None:
        """A WSGI environ gives the stable server attributes."""
        environ = {
            "REQUEST_METHOD": "GET",
            "wsgi.url_scheme": "http",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/users/7",
            "QUERY_STRING": "a=1&token=x",
            "HTTP_HOST": "shop.local:8000",
            "REMOTE_ADDR": "10.0.0.9",
            "REMOTE_PORT": "5555",
            "HTTP_USER_AGENT": "curl/8",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_X_FORWARDED_FOR": "203.0.113.5, 10.0.0.1",
        }
        assert server_attributes_from_environ(environ) == {
            "http.request.method": "GET",
            "url.scheme": "http",
            "url.path": "/users/7",
            "url.query": "a=1&token=REDACTED",
            "server.address": "shop.local",
            "server.port": 8000,
            "client.address": "203.0.113.5",
            "network.peer.address": "10.0.0.9",
            "network.peer.port": 5555,
            "user_agent.original": "curl/8",
            "network.protocol.version": "1.1",
        }

    def test_from_environ_unknown_method_and_utf8_path(self) -> None:
        """Unknown method recorded as _OTHER with the original; WSGI latin-1 paths decoded."""
        environ = {
            "REQUEST_METHOD": "BREW",
            "PATH_INFO": "/caf\xc3\xa9",
            "SERVER_NAME": "h",
            "SERVER_PORT": "80",
        }
        attrs = server_attributes_from_environ(environ)
        assert (
            attrs["http.request.method"],
            attrs["http.request.method_original"],
            attrs["url.path"],
        ) == ("_OTHER", "BREW", "/café")

    def test_from_scope(self) -> None:
        """An ASGI scope gives the same attributes."""
        scope = {
            "type": "http",
            "method": "POST",
            "scheme": "https",
            "path": "/orders",
            "root_path": "",
            "query_string": b"sig=1",
            "headers": [(b"host", b"api.local"), (b"user-agent", b"httpx")],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 9000),
            "http_version": "2",
        }
        assert server_attributes_from_scope(scope) == {
            "http.request.method": "POST",
            "url.scheme": "https",
            "url.path": "/orders",
            "url.query": "sig=REDACTED",
            "server.address": "api.local",
            "server.port": 443,
            "client.address": "127.0.0.1",
            "network.peer.address": "127.0.0.1",
            "network.peer.port": 40000,
            "user_agent.original": "httpx",
            "network.protocol.version": "2",
        }


class TestResolvedSettings:
    """Tracers resolve the environment once and pass the result to the helpers."""

    def test_redact_query_with_given_keys(self) -> None:
        """Given keys replace the environment's; matching ignores case, others are kept."""
        from spanwise.core.semconv._http import redact_query

        keys = frozenset({"session"})
        assert "Session=REDACTED&token=t&a=1" == redact_query("Session=s&token=t&a=1", keys)

    def test_redact_query_returns_the_same_text_when_clean(self) -> None:
        """Nothing sensitive: the very same string comes back."""
        from spanwise.core.semconv._http import redact_query

        query = "page=2&sort=asc"
        assert query is redact_query(query)

    def test_normalize_method_with_given_set(self) -> None:
        """A given known set decides, case-insensitively."""
        from spanwise.core.semconv._http import normalize_method

        known = frozenset({"PURGE"})
        assert ("PURGE", "PURGE", "_OTHER") == (
            normalize_method("PURGE", known),
            normalize_method("purge", known),
            normalize_method("GET", known),
        )

    def test_scope_path_falls_back_to_raw_path_then_slash(self) -> None:
        """root_path + path; raw_path if both are empty; ``/`` if that is missing too."""
        from spanwise.core.semconv._http import scope_path

        assert ("/r/p", "/raw", "/") == (
            scope_path({"root_path": "/r", "path": "/p"}),
            scope_path({"raw_path": b"/raw"}),
            scope_path({}),
        )
