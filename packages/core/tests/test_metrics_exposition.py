"""Exposition: SDK metrics as OpenMetrics text with exemplars, or Prometheus text 0.0.4."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from spanwise.core import Guard, HttpServerTracer, Options
from spanwise.core.metrics import render_metrics

# SDKs before 1.40 key metric streams by a frozenset of the attributes: a list value raises.
_SDK_TAKES_LISTS = hasattr(
    __import__("opentelemetry.sdk.metrics._internal._view_instrument_match", fromlist=["_"]),
    "_hash_attributes",
)

EMPTY = Resource.get_empty()


def collect(
    record: Callable[[Meter], None],
    resource: Resource = EMPTY,
    views: tuple[View, ...] = (),
) -> MetricsData | None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=resource, views=list(views))
    record(provider.get_meter("shop", "1.2"))
    return reader.get_metrics_data()


def sampled_span() -> trace.Span:
    return TracerProvider().get_tracer("t").start_span("checkout")


def lines(text: str, start: str | tuple[str, ...]) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(start)]


def ids(span: trace.Span) -> str:
    context = span.get_span_context()
    return f'trace_id="{context.trace_id:032x}",span_id="{context.span_id:016x}"'


class TestCounters:
    def test_openmetrics_counter_family(self) -> None:
        """A counter is a family without '_total' whose sample adds it, with the scope labels."""
        data = collect(lambda m: m.create_counter("shop.orders", unit="{order}").add(2))

        text = render_metrics(data)

        assert [
            "# TYPE shop_orders counter",
            'shop_orders_total{otel_scope_name="shop",otel_scope_version="1.2"} 2',
            "# EOF",
        ] == text.splitlines()

    def test_counter_exemplar_names_the_span(self) -> None:
        """A counter added to inside a sampled span carries its trace id and span id."""
        span = sampled_span()
        context = trace.set_span_in_context(span)
        data = collect(lambda m: m.create_counter("orders").add(3, {"k": "v"}, context=context))

        (sample,) = lines(render_metrics(data), "orders_total")

        expected = f'orders_total{{k="v",otel_scope_name="shop",otel_scope_version="1.2"}} 3 # {{{ids(span)}}} 3 '
        assert expected == sample[: len(expected)]
        assert re.fullmatch(r"\d{10}\.\d{9}", sample[len(expected) :])

    def test_no_exemplar_without_a_sampled_span(self) -> None:
        """Outside any span, or in an unsampled one, no exemplar is written."""
        unsampled = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t").start_span("x")
        context = trace.set_span_in_context(unsampled)

        def record(meter: Meter) -> None:
            counter = meter.create_counter("orders")
            counter.add(1)
            counter.add(1, context=context)

        text = render_metrics(collect(record))

        assert "#" not in lines(text, "orders_total")[0]

    def test_text_format_has_no_exemplars(self) -> None:
        """Text 0.0.4 names the counter with '_total' in TYPE, has no exemplar and no EOF."""
        span = sampled_span()
        context = trace.set_span_in_context(span)
        data = collect(lambda m: m.create_counter("orders").add(3, context=context))

        text = render_metrics(data, openmetrics=False)

        assert [
            "# TYPE orders_total counter",
            'orders_total{otel_scope_name="shop",otel_scope_version="1.2"} 3',
        ] == text.splitlines()


class TestHistograms:
    def record(self, meter: Meter, context: Any = None) -> None:
        histogram = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=[0.1, 0.5, 1.0],
        )
        histogram.record(0.05, {"http.route": "/a"})
        histogram.record(0.3, {"http.route": "/a"}, context=context)
        histogram.record(2.0, {"http.route": "/a"})

    def test_openmetrics_histogram(self) -> None:
        """Buckets are cumulative with '+Inf' equal to the count, then _sum and _count."""
        text = render_metrics(collect(self.record))
        labels = 'http_route="/a",otel_scope_name="shop",otel_scope_version="1.2"'

        assert [
            "# TYPE http_server_request_duration_seconds histogram",
            "# UNIT http_server_request_duration_seconds seconds",
            "# HELP http_server_request_duration_seconds Duration of HTTP server requests.",
            f'http_server_request_duration_seconds_bucket{{{labels},le="0.1"}} 1',
            f'http_server_request_duration_seconds_bucket{{{labels},le="0.5"}} 2',
            f'http_server_request_duration_seconds_bucket{{{labels},le="1.0"}} 2',
            f'http_server_request_duration_seconds_bucket{{{labels},le="+Inf"}} 3',
            f"http_server_request_duration_seconds_sum{{{labels}}} 2.35",
            f"http_server_request_duration_seconds_count{{{labels}}} 3",
            "# EOF",
        ] == text.splitlines()

    def test_exemplar_sits_on_its_bucket(self) -> None:
        """The sampled measurement's exemplar is on the bucket its value falls in."""
        span = sampled_span()
        text = render_metrics(collect(lambda m: self.record(m, trace.set_span_in_context(span))))

        marked = [line for line in lines(text, "http_server") if " # {" in line]

        assert 1 == len(marked)
        assert 'le="0.5"} 2 # {' + ids(span) + "} 0.3 " in marked[0]

    def test_exponential_histograms_are_left_out(self, caplog: pytest.LogCaptureFixture) -> None:
        """An exponential histogram has no text form: it is skipped and logged once."""
        view = View(instrument_name="sizes", aggregation=ExponentialBucketHistogramAggregation())

        def record(meter: Meter) -> None:
            meter.create_histogram("sizes").record(3)
            meter.create_counter("kept").add(1)

        text = render_metrics(collect(record, views=(view,)))

        assert ([], 1) == (lines(text, "sizes"), len(lines(text, "kept_total")))
        assert any("'sizes'" in r.getMessage() for r in caplog.records)


class TestGaugesAndConflicts:
    def test_up_down_counters_and_gauges_are_gauges(self) -> None:
        """Non-monotonic sums and gauges are Prometheus gauges; unit '1' on a gauge is a ratio."""

        def record(meter: Meter) -> None:
            meter.create_up_down_counter("queue.depth", unit="{job}").add(-2)
            meter.create_gauge("cpu.utilization", unit="1").set(0.5)

        text = render_metrics(collect(record))

        assert [
            "# TYPE queue_depth gauge",
            "# TYPE cpu_utilization_ratio gauge",
            "# UNIT cpu_utilization_ratio ratio",
        ] == lines(text, "# ")[:3]
        assert ["-2", "0.5"] == [line.rsplit(" ", 1)[1] for line in lines(text, ("queue", "cpu"))]

    def test_a_name_taken_by_another_type_is_skipped(self) -> None:
        """Two instruments that translate to one family name of different types: the first wins."""

        def record(meter: Meter) -> None:
            meter.create_counter("jobs").add(1)
            meter.create_up_down_counter("jobs_total").add(5)

        text = render_metrics(collect(record))

        assert ["jobs_total"] == [line.split("{")[0] for line in lines(text, "jobs")]


class TestLabels:
    def test_escaping_and_value_types(self) -> None:
        """Label values escape backslash, quote and newline; bools, numbers and lists are text."""
        attributes: dict[str, Any] = {
            "path": 'C:\\a"b\nc',
            "ok": True,
            "n": 3,
            "ratio": 0.5,
        }
        if _SDK_TAKES_LISTS:
            attributes["tags"] = ["x", "y"]
        data = collect(lambda m: m.create_counter("c").add(1, attributes))

        (sample,) = lines(render_metrics(data), "c_total")

        tags = ',tags="[\\"x\\", \\"y\\"]"' if _SDK_TAKES_LISTS else ""
        assert (
            'c_total{n="3",ok="true",otel_scope_name="shop",otel_scope_version="1.2",'
            f'path="C:\\\\a\\"b\\nc",ratio="0.5"{tags}}} 1'
        ) == sample

    def test_keys_that_collide_share_a_label(self) -> None:
        """'a.b' and 'a_b' both become a_b: their values are joined with ';' in key order."""
        data = collect(lambda m: m.create_counter("c").add(1, {"a_b": "2", "a.b": "1"}))

        (sample,) = lines(render_metrics(data), "c_total")

        assert sample.startswith('c_total{a_b="1;2",')

    def test_exemplar_keeps_filtered_attributes_that_fit(self) -> None:
        """Attributes a view dropped ride on the exemplar only within the 128-character budget."""
        span = sampled_span()
        context = trace.set_span_in_context(span)
        view = View(instrument_name="c", attribute_keys={"route"})
        attributes = {"route": "/a", "user.id": "u1", "blob": "x" * 100}
        data = collect(
            lambda m: m.create_counter("c").add(1, attributes, context=context), views=(view,)
        )

        (sample,) = lines(render_metrics(data), "c_total")

        assert f'# {{{ids(span)},user_id="u1"}} 1 ' in sample

    def test_help_is_escaped(self) -> None:
        """HELP text escapes backslashes and newlines (and quotes in OpenMetrics)."""
        data = collect(lambda m: m.create_counter("c", description='a\\b\n"c"').add(1))

        assert ['# HELP c a\\\\b\\n\\"c\\"'] == lines(render_metrics(data), "# HELP")
        assert ['# HELP c_total a\\\\b\\n"c"'] == lines(
            render_metrics(data, openmetrics=False), "# HELP"
        )


class TestTargetInfo:
    def test_resource_becomes_target_info(self) -> None:
        """Resource attributes are exposed once as target_info."""
        resource = Resource({"service.name": "shop", "service.version": "7"})
        data = collect(lambda m: m.create_counter("c").add(1), resource=resource)

        text = render_metrics(data)

        assert [
            "# TYPE target info",
            "# HELP target Target metadata",
            'target_info{service_name="shop",service_version="7"} 1',
        ] == text.splitlines()[:3]
        assert ['target_info{service_name="shop",service_version="7"} 1'] == lines(
            render_metrics(data, openmetrics=False), "target_info"
        )

    def test_nothing_collected(self) -> None:
        """No data: an OpenMetrics document with only its EOF marker, an empty text one."""
        assert ("# EOF\n", "\n") == (render_metrics(None), render_metrics(None, openmetrics=False))


class TestPluginHistogramExemplars:
    def request(self, sampled: bool) -> tuple[trace.Span, Any]:
        """One request through the core's HttpServerTracer, on providers of its own."""
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[reader])
        tracer_provider = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF)
        tracer = HttpServerTracer(
            tracer_provider.get_tracer("plugin"), meter_provider.get_meter("plugin"),
            Options(name="plugin"), Guard("plugin"),
        )  # fmt: skip
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/cart", "wsgi.url_scheme": "http",
                   "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1"}  # fmt: skip
        request = tracer.start_wsgi(environ)
        request.set_status_code(200)
        request.end()
        data = reader.get_metrics_data()
        assert data is not None
        (point,) = [
            point
            for sm in data.resource_metrics[0].scope_metrics
            for metric in sm.metrics
            if metric.name == "http.server.request.duration"
            for point in metric.data.data_points
        ]
        return request.span, point

    def test_sampled_request_links_its_span(self) -> None:
        """http.server.request.duration carries an exemplar with the request span's ids."""
        span, point = self.request(sampled=True)

        context = span.get_span_context()
        expected = (context.trace_id, context.span_id)
        assert [expected] == [(e.trace_id, e.span_id) for e in point.exemplars]

    def test_unsampled_request_has_no_exemplar(self) -> None:
        """An unsampled request is measured but leaves no exemplar."""
        _, point = self.request(sampled=False)

        assert (1, []) == (point.count, list(point.exemplars))
