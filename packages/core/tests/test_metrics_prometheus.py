"""PrometheusExemplarReader: a scrape endpoint that collects per scrape and negotiates formats."""

from __future__ import annotations

import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from spanwise.core.metrics import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    PrometheusExemplarReader,
    wants_openmetrics,
)

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture
def served() -> Iterator[tuple[PrometheusExemplarReader, MeterProvider]]:
    """A reader serving on a free loopback port, registered on its own meter provider."""
    reader = PrometheusExemplarReader("127.0.0.1", 0)
    provider = MeterProvider(metric_readers=[reader], resource=Resource.get_empty())
    try:
        yield reader, provider
    finally:
        provider.shutdown()


def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


class TestWantsOpenmetrics:
    @pytest.mark.parametrize(
        ("accept", "expected"),
        [
            (PROMETHEUS_ACCEPT, True),
            ("application/openmetrics-text; version=1.0.0", True),
            ("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5", False),
            ("application/openmetrics-text;q=0", False),
            ("application/openmetrics-text;q=zero", False),
            ("*/*", False),
            ("", False),
            (None, False),
            (",,;;==", False),
        ],
    )
    def test_negotiation(self, accept: str | None, expected: bool) -> None:
        """OpenMetrics only when acceptable and ranked at least as high as text/plain."""
        assert expected == wants_openmetrics(accept)


class TestPrometheusExemplarReader:
    def test_defaults(self) -> None:
        """The default address is 127.0.0.1:9464."""
        assert ("127.0.0.1", 9464) == (DEFAULT_HOST, DEFAULT_PORT)

    def test_prometheus_gets_openmetrics_with_exemplars(
        self, served: tuple[PrometheusExemplarReader, MeterProvider]
    ) -> None:
        """Prometheus's Accept header gets OpenMetrics, ending in EOF, exemplar included."""
        reader, provider = served
        span = TracerProvider().get_tracer("t").start_span("checkout")
        counter = provider.get_meter("shop").create_counter("orders")
        counter.add(1, context=trace.set_span_in_context(span))

        status, content_type, body = get(reader.url or "", PROMETHEUS_ACCEPT)

        trace_id = f"{span.get_span_context().trace_id:032x}"
        assert (200, OPENMETRICS_CONTENT_TYPE) == (status, content_type)
        assert f'# {{trace_id="{trace_id}",' in body
        assert body.endswith("# EOF\n")

    def test_others_get_text_format(
        self, served: tuple[PrometheusExemplarReader, MeterProvider]
    ) -> None:
        """A scraper without OpenMetrics in Accept gets text 0.0.4 without exemplars."""
        reader, provider = served
        provider.get_meter("shop").create_counter("orders").add(4)

        status, content_type, body = get(reader.url or "")

        assert (200, TEXT_CONTENT_TYPE) == (status, content_type)
        assert ["# TYPE orders_total counter", 'orders_total{otel_scope_name="shop"} 4'] == (
            body.splitlines()
        )

    def test_each_scrape_collects_cumulatively(
        self, served: tuple[PrometheusExemplarReader, MeterProvider]
    ) -> None:
        """Every scrape collects afresh; counters are cumulative across scrapes."""
        reader, provider = served
        counter = provider.get_meter("shop").create_counter("orders")
        counter.add(1)
        first = get(reader.url or "")[2]
        counter.add(2)
        second = get(reader.url or "")[2]

        assert ("1", "3") == (first.split()[-1], second.split()[-1])

    def test_root_and_query_string_also_serve(
        self, served: tuple[PrometheusExemplarReader, MeterProvider]
    ) -> None:
        """'/' and '/metrics?x=1' serve the metrics; other paths are 404."""
        reader, _ = served
        base = f"http://127.0.0.1:{reader.port}"

        statuses = [get(base + path)[0] for path in ("/", "/metrics?x=1", "/other")]

        assert [200, 200, 404] == statuses

    def test_failed_collection_is_a_500(
        self,
        served: tuple[PrometheusExemplarReader, MeterProvider],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A collection error answers 500, is reported once, and later scrapes still work."""
        reader, _ = served

        def broken(openmetrics: bool = True) -> str:
            raise RuntimeError("collection bug")

        monkeypatch.setattr(reader, "render", broken)
        failed = get(reader.url or "")[0]
        monkeypatch.undo()

        assert (500, 200) == (failed, get(reader.url or "")[0])
        assert {"scrape": 1} == reader.guard.failures

    def test_render_without_server(self) -> None:
        """start_server=False renders on demand and has no port or URL."""
        reader = PrometheusExemplarReader(start_server=False)
        provider = MeterProvider(metric_readers=[reader], resource=Resource.get_empty())
        provider.get_meter("shop").create_counter("orders").add(1)

        text = reader.render(openmetrics=False)
        provider.shutdown()

        assert (None, None) == (reader.port, reader.url)
        assert 'orders_total{otel_scope_name="shop"} 1' in text

    def test_busy_port_is_logged_not_raised(self, caplog: pytest.LogCaptureFixture) -> None:
        """If the port is taken the reader logs a warning and serves nothing; no exception."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            with caplog.at_level(logging.WARNING, logger="spanwise"):
                reader = PrometheusExemplarReader("127.0.0.1", taken.getsockname()[1])

        assert reader.port is None
        assert any("could not listen" in r.getMessage() for r in caplog.records)
        reader.shutdown()

    def test_shutdown_closes_the_socket(self) -> None:
        """After shutdown the port no longer accepts connections; shutting down twice is fine."""
        reader = PrometheusExemplarReader("127.0.0.1", 0)
        port = reader.port
        assert port is not None
        reader.shutdown()
        reader.shutdown()

        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass

    def test_concurrent_scrapes(
        self, served: tuple[PrometheusExemplarReader, MeterProvider]
    ) -> None:
        """Scrapes from several threads at once all succeed with the same totals."""
        import concurrent.futures

        reader, provider = served
        provider.get_meter("shop").create_counter("orders").add(5)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results: list[Any] = list(pool.map(lambda _: get(reader.url or ""), range(12)))

        assert {(200, "5")} == {(status, body.split()[-1]) for status, _, body in results}
