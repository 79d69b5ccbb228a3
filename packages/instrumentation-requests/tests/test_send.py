"""spanwise.instrumentation.requests._send: CLIENT spans around Session.send."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from spanwise.core.testing import free_port


def _ids(span: Any) -> str:
    """The trace and span id part of the traceparent that names *span*."""
    ctx = span.context
    return f"{ctx.trace_id:032x}-{ctx.span_id:016x}"


def _sampled(traceparent: str) -> bool:
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & 1)


class TestSpan:
    def test_one_client_span_named_after_the_method(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """requests.get makes one CLIENT span named GET."""
        instrument()
        requests.get(f"{http_server}/echo", timeout=5)
        span = telemetry.span("GET")
        assert SpanKind.CLIENT == span.kind

    def test_stable_client_attributes(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """Method, url.full, server address/port, status code and protocol are recorded."""
        instrument()
        requests.post(f"{http_server}/echo?page=2", data=b"x", timeout=5)
        port = int(http_server.rsplit(":", 1)[1])
        expected = {
            "http.request.method": "POST",
            "url.full": f"{http_server}/echo?page=2",
            "server.address": "127.0.0.1",
            "server.port": port,
            "http.response.status_code": 200,
            "network.protocol.version": "1.1",
        }
        assert expected == dict(telemetry.span("POST").attributes)

    def test_credentials_and_sensitive_query_values_are_redacted(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """url.full hides user:password and sensitive query values."""
        instrument()
        url = http_server.replace("http://", "http://user:pw@") + "/echo?token=abc&x=1"
        requests.get(url, timeout=5)
        full = telemetry.span("GET").attributes["url.full"]
        assert f"http://REDACTED:REDACTED@{http_server[7:]}/echo?token=REDACTED&x=1" == full

    def test_unknown_method_is_other(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """A non-standard method gives span HTTP, _OTHER and the original method."""
        instrument()
        requests.request("PURGE", f"{http_server}/echo", timeout=5)
        span = telemetry.span("HTTP")
        assert ("_OTHER", "PURGE") == (
            span.attributes["http.request.method"],
            span.attributes["http.request.method_original"],
        )

    def test_child_of_the_current_span(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """The CLIENT span's parent is the span current when the request was sent."""
        instrument()
        with trace.get_tracer("test").start_as_current_span("parent"):
            requests.get(f"{http_server}/echo", timeout=5)
        telemetry.assert_tree(
            """
            parent [INTERNAL]
            └── GET [CLIENT]
            """
        )

    def test_redirect_hops_nest_under_the_first_request(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """A followed redirect is its own CLIENT span, nested under the first request."""
        instrument()
        response = requests.get(f"{http_server}/redirect", timeout=5)
        assert 200 == response.status_code
        telemetry.assert_tree(
            """
            GET [CLIENT] http.response.status_code=302
            └── GET [CLIENT] http.response.status_code=200
            """,
            ["http.response.status_code"],
        )


class TestPropagation:
    def test_traceparent_is_injected(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """The server receives a traceparent naming the CLIENT span."""
        instrument()
        received = requests.get(f"{http_server}/echo", timeout=5).json()
        [traceparent] = received["traceparent"]
        assert (_ids(telemetry.span("GET")), True) == (traceparent[3:-3], _sampled(traceparent))

    def test_only_propagation_headers_are_added(self, instrument: Any, http_server: str) -> None:
        """Apart from traceparent the server sees exactly the headers it saw uninstrumented."""
        headers = {"X-App": "1", "Authorization": "Bearer secret"}
        bare = requests.get(f"{http_server}/echo", headers=headers, timeout=5).json()
        instrument()
        traced = requests.get(f"{http_server}/echo", headers=headers, timeout=5).json()
        traced.pop("traceparent")
        assert bare == traced

    def test_callers_headers_dict_is_not_modified(self, instrument: Any, http_server: str) -> None:
        """The dict the app passed as headers= is left as it was."""
        instrument()
        headers = {"X-App": "1"}
        requests.get(f"{http_server}/echo", headers=headers, timeout=5)
        assert {"X-App": "1"} == headers

    def test_unsampled_still_propagates_the_decision(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """Unsampled: no span is exported, but a traceparent saying so is sent."""
        instrument()
        telemetry.sample(False)
        received = requests.get(f"{http_server}/echo", timeout=5).json()
        assert ([], False) == (telemetry.spans(), _sampled(received["traceparent"][0]))


class TestFailures:
    def test_4xx_is_an_error_for_a_client(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """A 404 response makes the CLIENT span an error with error.type 404."""
        instrument()
        assert 404 == requests.get(f"{http_server}/status/404", timeout=5).status_code
        span = telemetry.span("GET")
        assert (StatusCode.ERROR, "404") == (span.status.status_code, span.attributes["error.type"])

    def test_connection_error_is_recorded_and_raised_unchanged(
        self, instrument: Any, telemetry: Any
    ) -> None:
        """Connection refused: the app gets requests' ConnectionError, the span records it."""
        instrument()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{free_port()}/", timeout=5)
        span = telemetry.span("GET")
        assert (
            StatusCode.ERROR,
            "requests.exceptions.ConnectionError",
            ("exception",),
        ) == (
            span.status.status_code,
            span.attributes["error.type"],
            tuple(e.name for e in span.events),
        )


class TestOptions:
    def test_excluded_urls(self, instrument: Any, http_server: str, telemetry: Any) -> None:
        """A URL matching excluded_urls gets no span and no traceparent."""
        instrument(excluded_urls="/echo")
        received = requests.get(f"{http_server}/echo", timeout=5).json()
        assert ([], False) == (telemetry.spans(), "traceparent" in received)

    def test_excluded_urls_from_environment(
        self, instrument: Any, http_server: str, telemetry: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_PYTHON_REQUESTS_EXCLUDED_URLS excludes too."""
        monkeypatch.setenv("OTEL_PYTHON_REQUESTS_EXCLUDED_URLS", "status/2")
        instrument()
        requests.get(f"{http_server}/status/204", timeout=5)
        requests.get(f"{http_server}/echo", timeout=5)
        assert ["GET"] == [s.name for s in telemetry.spans()]
        assert "/echo" in telemetry.span("GET").attributes["url.full"]

    def test_hooks_see_span_request_and_response(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """request_hook(span, request) and response_hook(span, request, response) run."""

        def request_hook(span: Any, request: Any) -> None:
            span.set_attribute("hook.request", request.method)

        def response_hook(span: Any, request: Any, response: Any) -> None:
            span.set_attribute("hook.response", response.status_code)

        instrument(request_hook=request_hook, response_hook=response_hook)
        requests.get(f"{http_server}/echo", timeout=5)
        attrs = telemetry.span("GET").attributes
        assert ("GET", 200) == (attrs["hook.request"], attrs["hook.response"])

    def test_failing_hooks_do_not_reach_the_app(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """Hooks that raise are swallowed; the response and the span are intact."""

        def broken(*args: Any) -> None:
            raise ValueError("hook bug")

        instrument(request_hook=broken, response_hook=broken)
        response = requests.get(f"{http_server}/echo", timeout=5)
        assert (200, ["GET"]) == (response.status_code, [s.name for s in telemetry.spans()])

    def test_captured_headers_with_sensitive_values_hidden(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """Configured request/response headers are captured; Authorization is redacted."""
        instrument(
            capture_client_request_headers=["x-app", "authorization"],
            capture_client_response_headers=["x-served-by"],
        )
        requests.get(
            f"{http_server}/echo",
            headers={"X-App": "one", "Authorization": "Bearer secret"},
            timeout=5,
        )
        attrs = telemetry.span("GET").attributes
        assert (("one",), ("[REDACTED]",), ("test-server",)) == (
            attrs["http.request.header.x_app"],
            attrs["http.request.header.authorization"],
            attrs["http.response.header.x_served_by"],
        )

    def test_suppressed_context_sends_untraced(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """Under the SDK's suppression key (exporters) no span and no traceparent."""
        from opentelemetry import context

        instrument()
        token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            received = requests.get(f"{http_server}/echo", timeout=5).json()
        finally:
            context.detach(token)
        assert ([], False) == (telemetry.spans(), "traceparent" in received)

    def test_http_suppression_sends_untraced(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """suppress(http=True) (contrib's suppress_http_instrumentation key) silences it too."""
        from spanwise.core.context import suppress

        instrument()
        with suppress(http=True):
            received = requests.get(f"{http_server}/echo", timeout=5).json()
        assert ([], False) == (telemetry.spans(), "traceparent" in received)


class TestMetrics:
    def test_client_duration_with_low_cardinality_attributes(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """http.client.request.duration is recorded once with method, server, status, scheme."""
        instrument()
        telemetry.metrics()
        requests.get(f"{http_server}/echo?q=1", timeout=5)
        points = telemetry.metrics()["http.client.request.duration"]
        port = int(http_server.rsplit(":", 1)[1])
        expected = {
            "http.request.method": "GET",
            "server.address": "127.0.0.1",
            "server.port": port,
            "url.scheme": "http",
            "http.response.status_code": 200,
            "network.protocol.version": "1.1",
        }
        assert [(1, expected)] == [(p.count, dict(p.attributes)) for p in points]

    def test_recorded_when_unsampled(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """The duration metric does not depend on sampling."""
        instrument()
        telemetry.sample(False)
        telemetry.metrics()
        requests.get(f"{http_server}/echo", timeout=5)
        assert 1 == sum(p.count for p in telemetry.metrics()["http.client.request.duration"])


class _BrokenPropagator:
    """A propagator whose every method raises."""

    fields: set[str] = set()

    def extract(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("broken propagator")

    def inject(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("broken propagator")


class TestHostile:
    def test_a_failing_propagator_does_not_fail_the_request(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """inject() raising inside the global propagator: the request is sent, the span made."""
        from opentelemetry import propagate

        previous = propagate.get_global_textmap()
        propagate.set_global_textmap(_BrokenPropagator())  # type: ignore[arg-type]
        try:
            instrument()
            response = requests.get(f"{http_server}/echo", timeout=5)
        finally:
            propagate.set_global_textmap(previous)
        assert (200, False, ["GET"]) == (
            response.status_code,
            "traceparent" in response.json(),
            [s.name for s in telemetry.spans()],
        )

    def test_non_ascii_url_and_header_values(
        self, instrument: Any, http_server: str, telemetry: Any
    ) -> None:
        """Percent-encoded and Latin-1 parts reach the server as they do uninstrumented."""
        url = f"{http_server}/caf%C3%A9?q=%FF%FE"
        headers = {"X-Latin": "caf\xe9"}
        bare = requests.get(url, headers=headers, timeout=5).json()
        instrument()
        traced = requests.get(url, headers=headers, timeout=5).json()
        traced.pop("traceparent")
        assert (bare, f"{http_server}/caf%C3%A9?q=%FF%FE") == (
            traced,
            telemetry.span("GET").attributes["url.full"],
        )
