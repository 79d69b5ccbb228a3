"""A real Prometheus scrapes an instrumented WSGI app and finds exemplars that match its spans."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanwise.core import Guard, HttpServerTracer, Options
from spanwise.core.metrics import PrometheusExemplarReader

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No request log on stderr."""


class App:
    """A WSGI app on a loopback thread, traced with the core's HttpServerTracer."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = PrometheusExemplarReader("127.0.0.1", 0)
        self.meter_provider = MeterProvider(
            metric_readers=[self.reader],
            resource=Resource.create({"service.name": "prometheus-e2e"}),
        )
        self.server_tracer = HttpServerTracer(
            tracer_provider.get_tracer("e2e"),
            self.meter_provider.get_meter("e2e"),
            Options(name="e2e"),
            Guard("e2e"),
        )
        self.orders = self.meter_provider.get_meter("e2e").create_counter("shop.orders")
        self.server: WSGIServer = make_server("127.0.0.1", 0, self.wsgi, handler_class=_Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = self.server_tracer.start_wsgi(environ)
        request.attach()
        try:
            request.set_route("/checkout")
            if environ["PATH_INFO"] == "/checkout":
                time.sleep(0.002)
                self.orders.add(1, {"shop.region": "eu"})
            request.set_status_code(200)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        finally:
            request.detach()
            request.end()

    def get(self, path: str) -> None:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            response.read()

    def span_ids(self) -> set[tuple[str, str]]:
        return {
            (f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}")
            for s in self.spans.get_finished_spans()
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.meter_provider.shutdown()


@pytest.fixture
def app() -> Iterator[App]:
    """The instrumented app and its scrape endpoint, both on free loopback ports."""
    running = App()
    try:
        yield running
    finally:
        running.close()


def _exemplar_ids(data: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (exemplar["labels"]["trace_id"], exemplar["labels"]["span_id"])
        for series in data
        for exemplar in series["exemplars"]
    }


class TestPrometheusExemplars:
    def test_histogram_exemplars_name_exported_spans(self, app: App, prometheus: Any) -> None:
        """Prometheus stores bucket exemplars whose trace and span ids are the requests' spans."""
        start = time.time() - 5
        prometheus.scrape(f"127.0.0.1:{app.reader.port}")
        query = "http_server_request_duration_seconds_bucket"

        def exemplars() -> set[tuple[str, str]]:
            app.get("/checkout")
            data = prometheus.api("query_exemplars", query=query, start=start, end=time.time() + 5)
            return _exemplar_ids(data)

        found = prometheus.poll(exemplars)

        assert found <= app.span_ids()

    def test_counter_exemplars_name_exported_spans(self, app: App, prometheus: Any) -> None:
        """A counter added to inside a request carries that request's trace id to Prometheus."""
        start = time.time() - 5
        prometheus.scrape(f"127.0.0.1:{app.reader.port}")

        def exemplars() -> set[tuple[str, str]]:
            app.get("/checkout")
            data = prometheus.api(
                "query_exemplars", query="shop_orders_total", start=start, end=time.time() + 5
            )
            return _exemplar_ids(data)

        found = prometheus.poll(exemplars)

        assert found <= app.span_ids()

    def test_series_are_scraped_with_their_labels(self, app: App, prometheus: Any) -> None:
        """The scraped histogram count equals the requests served, labelled by route."""
        for _ in range(3):
            app.get("/checkout")
        prometheus.scrape(f"127.0.0.1:{app.reader.port}")
        query = 'http_server_request_duration_seconds_count{http_route="/checkout"}'

        def count() -> list[Any]:
            return prometheus.api("query", query=query)["result"]  # type: ignore[no-any-return]

        result = prometheus.poll(count)

        assert "3" == result[0]["value"][1]
