"""The per-request shortcuts of the HTTP server path: bounded caches, lock-free active counts,
and attributes identical to what the straightforward code computed."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider

from spanwise.core import Guard, HttpServerTracer, Options
from spanwise.core import _http_server as hs
from spanwise.core.semconv import _http as sh
from spanwise.core.semconv import _names as n


@pytest.fixture(autouse=True)
def _isolated(telemetry: Any) -> None:
    """Every test here records through the capturing providers, reset after it."""


def _tracer() -> HttpServerTracer:
    # A meter of its own (no reader): the series these tests leave behind in the active
    # requests' callback are never reported to other tests.
    meter = MeterProvider().get_meter("http-server-caches-test")
    return HttpServerTracer(trace.get_tracer("t"), meter, Options.build("t", {}), Guard("t"))


def _reference_extra(environ: dict[str, Any], method_original: str, method: str) -> dict[str, Any]:
    """environ_extra_attributes as it was written before it was made cheaper."""
    attrs: dict[str, Any] = {}
    if method == sh.OTHER_METHOD:
        attrs[n.HTTP_REQUEST_METHOD_ORIGINAL] = method_original
    get = environ.get
    query = get("QUERY_STRING")
    if query:
        attrs[n.URL_QUERY] = sh.redact_query(str(query), sh.sensitive_query_keys())
    host = get("HTTP_HOST")
    if host:
        address, port = sh.split_host_port(str(host))
    else:
        address = str(get("SERVER_NAME", "")) or None
        try:
            port = int(get("SERVER_PORT", 0)) or None
        except (TypeError, ValueError):
            port = None
    if address:
        attrs[n.SERVER_ADDRESS] = address
    scheme = str(get("wsgi.url_scheme", "http"))
    attrs[n.SERVER_PORT] = port if port is not None else (443 if scheme == "https" else 80)
    peer = get("REMOTE_ADDR")
    client = None
    if get("HTTP_FORWARDED"):
        client = sh._forwarded_client(str(get("HTTP_FORWARDED")))
    if client is None and get("HTTP_X_FORWARDED_FOR"):
        client = sh._first_forwarded_for(str(get("HTTP_X_FORWARDED_FOR")))
    if client is None and peer:
        client = str(peer)
    if client:
        attrs[n.CLIENT_ADDRESS] = client
    if peer:
        attrs[n.NETWORK_PEER_ADDRESS] = str(peer)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            attrs[n.NETWORK_PEER_PORT] = int(environ["REMOTE_PORT"])
    if get("HTTP_USER_AGENT"):
        attrs[n.USER_AGENT_ORIGINAL] = str(get("HTTP_USER_AGENT"))
    version = sh.protocol_version(str(get("SERVER_PROTOCOL", "")))
    if version:
        attrs[n.NETWORK_PROTOCOL_VERSION] = version
    return attrs


_ENVIRONS = [
    {"REQUEST_METHOD": "GET", "HTTP_HOST": "a:8000", "REMOTE_ADDR": "1.2.3.4",
     "REMOTE_PORT": "5", "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "x=1&token=t"},
    {"REQUEST_METHOD": "BREW", "SERVER_NAME": "h", "SERVER_PORT": "x", "wsgi.url_scheme": "https",
     "SERVER_PROTOCOL": "HTTP/2", "HTTP_USER_AGENT": "ua"},
    {"REQUEST_METHOD": "GET", "HTTP_FORWARDED": "for=9.9.9.9", "REMOTE_ADDR": "1.1.1.1",
     "REMOTE_PORT": "nope", "SERVER_PROTOCOL": "SPDY/3"},
    {"REQUEST_METHOD": "GET", "HTTP_X_FORWARDED_FOR": "7.7.7.7, 8.8.8.8",
     "SERVER_PROTOCOL": "http/1.0", "HTTP_HOST": "[::1]:99999"},
    {"REQUEST_METHOD": "GET", "REMOTE_ADDR": "", "SERVER_PROTOCOL": b"HTTP/1.1"},
    {"REQUEST_METHOD": "GET"},
]  # fmt: skip


class TestEnvironAttributes:
    @pytest.mark.parametrize("environ", _ENVIRONS)
    def test_same_attributes_in_the_same_order(self, environ: dict[str, Any]) -> None:
        """The faster code gives exactly the attributes (and key order) of the plain one."""
        original = environ["REQUEST_METHOD"]
        method = sh.normalize_method(original)
        scheme = str(environ.get("wsgi.url_scheme", "http"))
        got = sh.environ_extra_attributes(
            environ, original, method, scheme, sh.sensitive_query_keys()
        )
        expected = _reference_extra(environ, original, method)
        assert list(expected.items()) == list(got.items())

    def test_host_cache_is_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Host values are remembered up to the cap; beyond it they are still split right."""
        monkeypatch.setattr(sh, "_HOSTS", {})
        monkeypatch.setattr(sh, "_MAX_HOSTS", 3)
        results = [sh._host_port(f"h{i}:{1000 + i}") for i in range(10)]
        assert (3, [(f"h{i}", 1000 + i) for i in range(10)]) == (len(sh._HOSTS), results)


class TestEndAttributes:
    def test_one_pair_of_dicts_per_combination(self) -> None:
        """The same combination gives the same dicts; another one gives its own."""
        server = _tracer()
        first = server.end_attributes("GET", "http", "/u/{id}", 200, None, "1.1")
        again = server.end_attributes("GET", "http", "/u/{id}", 200, None, "1.1")
        other = server.end_attributes("GET", "http", "/u/{id}", 500, "500", "1.1")
        assert (True, False) == (first is again, first is other)
        assert (
            {
                n.HTTP_REQUEST_METHOD: "GET",
                n.URL_SCHEME: "http",
                n.HTTP_ROUTE: "/u/{id}",
                n.HTTP_RESPONSE_STATUS_CODE: 500,
                n.ERROR_TYPE: "500",
                n.NETWORK_PROTOCOL_VERSION: "1.1",
            },
            {n.HTTP_ROUTE: "/u/{id}", n.HTTP_RESPONSE_STATUS_CODE: 500, n.ERROR_TYPE: "500"},
        ) == other

    def test_only_what_is_known(self) -> None:
        """No route, status, error or protocol: only method and scheme (nothing late)."""
        assert ({n.HTTP_REQUEST_METHOD: "GET", n.URL_SCHEME: "http"}, {}) == _tracer(
        ).end_attributes("GET", "http", None, None, None, None)  # fmt: skip

    def test_cache_is_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past the cap, combinations are built per call and not kept."""
        monkeypatch.setattr(hs, "_MAX_END_ATTRS", 4)
        server = _tracer()
        for code in range(200, 220):
            attrs, _ = server.end_attributes("GET", "http", "/r", code, None, None)
            assert code == attrs[n.HTTP_RESPONSE_STATUS_CODE]
        assert 4 == len(server._end_attrs)


class TestActiveCounts:
    def test_counts_requests_in_flight(self) -> None:
        """Starting adds one to its (method, scheme), ending takes it away, once."""
        server = _tracer()
        environ = {"REQUEST_METHOD": "GET", "wsgi.url_scheme": "https", "PATH_INFO": "/"}
        active = server._active
        before = active.counts.get(("GET", "https"), 0)
        one, two = server.start_wsgi(environ), server.start_wsgi(environ)
        during = active.counts[("GET", "https")]
        one.end()
        one.end()
        after_one = active.counts[("GET", "https")]
        two.end()
        assert (before + 2, before + 1, before) == (
            during,
            after_one,
            active.counts[("GET", "https")],
        )

    def test_observed_per_method_and_scheme(self) -> None:
        """The callback reports every pair seen, zero included."""
        counts = hs._ActiveCounts()
        counts.slot(("GET", "http")).append(None)
        counts.slot(("POST", "https"))
        observed = sorted(
            (o.attributes[n.HTTP_REQUEST_METHOD], o.attributes[n.URL_SCHEME], o.value)
            for o in counts.observe(None)  # type: ignore[arg-type]
        )
        assert [("GET", "http", 1), ("POST", "https", 0)] == observed


class TestUnsampledProtocol:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [("HTTP/1.1", "1.1"), ("HTTP/2", "2"), ("http/1.0", "1.0"), ("SPDY/3", None), ("", None)],
    )
    def test_same_protocol_as_a_sampled_request(self, raw: str, expected: str | None) -> None:
        """The duration's network.protocol.version does not depend on sampling."""
        server = _tracer()
        request = server.start_wsgi({"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": raw})
        request.end()
        assert (expected, sh.protocol_version(raw)) == (request.protocol, expected)
