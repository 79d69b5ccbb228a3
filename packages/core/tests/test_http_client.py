"""spanwise.core._http_client: the per-URL cache and the response set in one pass."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.trace import StatusCode

from spanwise.core import Guard, HttpClientTracer, Options
from spanwise.core import _http_client as module
from spanwise.core.testing import CapturedTelemetry


def client(**options: Any) -> HttpClientTracer:
    return HttpClientTracer(
        trace.get_tracer("test"),
        metrics.get_meter("test"),
        Options.build("test", options),
        Guard("test"),
    )


class TestDestinationCache:
    def test_keyed_by_the_whole_url(self, telemetry: CapturedTelemetry) -> None:
        """Two URLs that differ only in the query keep their own url.full and server."""
        tracer = client()
        tracer.start("GET", "http://a.local:81/x?token=1").end()
        tracer.start("GET", "http://a.local:81/x?page=1").end()
        tracer.start("GET", "https://b.local/x?token=1").end()
        tracer.start("GET", "http://a.local:81/x?token=1").end()
        got = [
            (s.attributes["url.full"], s.attributes["server.address"], s.attributes["server.port"])  # type: ignore[index]
            for s in telemetry.spans()
        ]
        assert [
            ("http://a.local:81/x?token=REDACTED", "a.local", 81),
            ("http://a.local:81/x?page=1", "a.local", 81),
            ("https://b.local/x?token=REDACTED", "b.local", 443),
            ("http://a.local:81/x?token=REDACTED", "a.local", 81),
        ] == got
        assert 3 == len(tracer._destinations)

    def test_bounded(self, telemetry: CapturedTelemetry, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past the bound the cache starts over, and every request is still right."""
        monkeypatch.setattr(module, "_MAX_URLS", 4)
        tracer = client()
        for i in range(10):
            tracer.start("GET", f"http://h/{i}").end()
            assert len(tracer._destinations) <= 4
        assert [f"http://h/{i}" for i in range(10)] == [
            s.attributes["url.full"]  # type: ignore[index]
            for s in telemetry.spans()
        ]

    def test_unparsable_url(self, telemetry: CapturedTelemetry) -> None:
        """A URL urlsplit rejects still gives a span (no address, the scheme's default port)."""
        client().start("GET", "http://[::1/x").end()
        attrs = telemetry.spans()[0].attributes
        assert attrs is not None
        assert (80, False) == (attrs["server.port"], "server.address" in attrs)

    def test_url_full_given_at_start(self, telemetry: CapturedTelemetry) -> None:
        """url.full is a sampling-relevant attribute: the sampler sees it."""
        seen: list[Any] = []
        tracer = client()
        real = tracer.tracer

        class Spy:
            def start_span(self, *args: Any, **kwargs: Any) -> Any:
                seen.append(dict(kwargs["attributes"]))
                return real.start_span(*args, **kwargs)

        tracer.tracer = Spy()  # type: ignore[assignment]
        tracer.start("PURGE", "http://h/x").end()
        assert {
            "http.request.method": "_OTHER",
            "http.request.method_original": "PURGE",
            "server.address": "h",
            "server.port": 80,
            "url.full": "http://h/x",
        } == seen[0]


class TestSetResponse:
    def test_span_has_the_response_before_end(self, telemetry: CapturedTelemetry) -> None:
        """Status code, error.type and protocol are on the span (and the metric) in one pass."""
        tracer = client()
        request = tracer.start("GET", "http://h/x")
        request.set_response(503, "1.1")
        assert {
            "http.response.status_code": 503,
            "error.type": "503",
            "network.protocol.version": "1.1",
        }.items() <= dict(request.span.attributes).items()  # type: ignore[attr-defined]
        request.end()
        span = telemetry.spans()[0]
        (point,) = telemetry.metrics()["http.client.request.duration"]
        assert (StatusCode.ERROR, 503, "503", "1.1") == (
            span.status.status_code,
            point.attributes["http.response.status_code"],
            point.attributes["error.type"],
            point.attributes["network.protocol.version"],
        )

    def test_ok_response(self, telemetry: CapturedTelemetry) -> None:
        """A 2xx sets no error and no status."""
        request = client().start("GET", "http://h/x")
        request.set_response(200, None)
        request.end()
        span = telemetry.spans()[0]
        assert span.attributes is not None
        assert (StatusCode.UNSET, 200, False, False) == (
            span.status.status_code,
            span.attributes["http.response.status_code"],
            "error.type" in span.attributes,
            "network.protocol.version" in span.attributes,
        )

    def test_exception_after_response_wins(self, telemetry: CapturedTelemetry) -> None:
        """An exception recorded after the response sets its own error.type at end."""
        request = client().start("GET", "http://h/x")
        request.set_response(404)
        request.record_exception(TimeoutError("slow"))
        request.end()
        span = telemetry.spans()[0]
        (point,) = telemetry.metrics()["http.client.request.duration"]
        assert ("TimeoutError", "TimeoutError") == (
            span.attributes["error.type"],  # type: ignore[index]
            point.attributes["error.type"],
        )

    def test_bad_status_code_is_ignored(self, telemetry: CapturedTelemetry) -> None:
        """A status code that is not a number is left out, never raised."""
        request = client().start("GET", "http://h/x")
        request.set_response("x", "2")  # type: ignore[arg-type]
        request.end()
        attrs = telemetry.spans()[0].attributes
        assert attrs is not None
        assert ("2", False) == (
            attrs["network.protocol.version"],
            "http.response.status_code" in attrs,
        )

    def test_unsampled_records_the_metric(self, telemetry: CapturedTelemetry) -> None:
        """Not recording: nothing set on the span, the metric still has the response."""
        telemetry.sample(False)
        request = client().start("GET", "http://h/x")
        request.set_response(500, "1.1")
        request.end()
        assert [] == telemetry.spans()
        (point,) = telemetry.metrics()["http.client.request.duration"]
        assert (500, "500", "1.1", []) == (
            point.attributes["http.response.status_code"],
            point.attributes["error.type"],
            point.attributes["network.protocol.version"],
            point.exemplars,
        )


class TestEndAttributes:
    def test_one_dict_per_combination(self) -> None:
        """The same combination gives the same dict; another one gives its own."""
        tracer = client()
        first = tracer.end_attributes("GET", "http", "a.local", 81, 200, None, "1.1")
        again = tracer.end_attributes("GET", "http", "a.local", 81, 200, None, "1.1")
        other = tracer.end_attributes("GET", "https", None, 443, 503, "503", None)
        assert (True, False) == (first is again, first is other)
        assert {
            "http.request.method": "GET",
            "url.scheme": "https",
            "server.port": 443,
            "http.response.status_code": 503,
            "error.type": "503",
        } == other

    def test_cache_is_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past the cap, combinations are built per call and not kept."""
        monkeypatch.setattr(module, "_MAX_END_ATTRS", 4)
        tracer = client()
        for code in range(200, 220):
            attrs = tracer.end_attributes("GET", "http", "h", 80, code, None, None)
            assert code == attrs["http.response.status_code"]
        assert 4 == len(tracer._end_attrs)

    def test_metric_points_per_combination(self, telemetry: CapturedTelemetry) -> None:
        """Requests reusing one combination add to one point; another status, another point."""
        tracer = client()
        for code in (200, 200, 404):
            request = tracer.start("GET", "http://a.local:81/x")
            request.set_response(code, "1.1")
            request.end()
        points = telemetry.metrics()["http.client.request.duration"]
        assert {(200, 2), (404, 1)} == {
            (p.attributes["http.response.status_code"], p.count) for p in points
        }
