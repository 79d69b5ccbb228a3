"""FastInstrument: what reaches the exporter is exactly what the public record/add would give."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.context import Context
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import get_current_span, set_span_in_context

from spanwise.core.metrics import FastInstrument, install_cardinality_guard

ATTRS = [
    {"http.request.method": "GET", "url.scheme": "http", "http.response.status_code": 200},
    {"http.request.method": "POST", "url.scheme": "https", "http.response.status_code": 500,
     "error.type": "500"},
    {},
]  # fmt: skip


def _points(data: MetricsData | None) -> list[tuple[Any, ...]]:
    """Every data point, exemplars included, without timestamps (which differ by nature)."""
    found: list[tuple[Any, ...]] = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    values = {
                        k: v
                        for k, v in vars(point).items()
                        if k not in {"start_time_unix_nano", "time_unix_nano", "exemplars"}
                    }
                    exemplars = sorted(
                        (e.value, e.trace_id, e.span_id, tuple(sorted((e.filtered_attributes or {}).items())))
                        for e in point.exemplars
                    )  # fmt: skip
                    found.append(
                        (metric.name, tuple(sorted(map(str, values.items()))), tuple(exemplars))
                    )
    return sorted(found)


class _CountingIds(IdGenerator):
    """The same ids in every run, so exemplars from two runs can be compared."""

    def __init__(self) -> None:
        self._next = 0

    def generate_span_id(self) -> int:
        self._next += 1
        return self._next

    def generate_trace_id(self) -> int:
        return self._next + 1000


Recorder = Callable[[float, dict[str, Any], Context | None], None]


def _run(
    make: Callable[[Any], Recorder],
    reader: InMemoryMetricReader,
    views: tuple[View, ...] = (),
    *,
    kind: str = "histogram",
) -> list[tuple[Any, ...]]:
    """Records one fixed sequence through *make*'s recorder and returns the exported points."""
    provider = MeterProvider(metric_readers=[reader], views=views)
    meter = provider.get_meter("test.fast")
    if kind == "histogram":
        instrument: Any = meter.create_histogram("op.duration", unit="s")
    else:
        instrument = meter.create_counter("op.count")
    record = make(instrument)
    tracer = TracerProvider(id_generator=_CountingIds()).get_tracer("t")
    random.seed(7)  # a counter's exemplar reservoir picks at random
    collected = []
    for round_ in range(3):
        for i in range(60):
            attrs = dict(ATTRS[i % len(ATTRS)])
            span = tracer.start_span("s")
            ctx = set_span_in_context(span, Context()) if i % 2 else None
            record(0.001 * (i + round_), attrs, ctx)
            span.end()
        collected.extend(_points(reader.get_metrics_data()))
    provider.shutdown()
    return collected


def _public(instrument: Any) -> Recorder:
    method = instrument.record if hasattr(instrument, "record") else instrument.add
    return lambda value, attrs, ctx: method(value, attrs, context=ctx)


def _fast(instrument: Any) -> Recorder:
    fast = FastInstrument(instrument)
    return fast.record


@pytest.mark.parametrize("kind", ["histogram", "counter"])
@pytest.mark.parametrize("temporality", ["cumulative", "delta"])
def test_exports_what_the_public_call_exports(kind: str, temporality: str) -> None:
    def reader() -> InMemoryMetricReader:
        if temporality == "cumulative":
            return InMemoryMetricReader()
        from opentelemetry.sdk.metrics import Counter, Histogram

        delta = AggregationTemporality.DELTA
        return InMemoryMetricReader(preferred_temporality={Histogram: delta, Counter: delta})

    expected = _run(_public, reader(), kind=kind)
    assert expected  # the comparison is not between two empty lists
    assert any(point[2] for point in expected)  # and exemplars are part of it
    assert expected == _run(_fast, reader(), kind=kind)


def test_the_fast_path_is_taken_after_the_first_record_of_a_set() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test.fast")
    fast = FastInstrument(meter.create_histogram("op.duration"))
    fast.record(1.0, {"a": "x"})
    assert len(fast._cache) == 1
    calls = []
    fast._public = lambda *args, **kwargs: calls.append(args)  # the slow path would show here
    fast.record(2.0, {"a": "x"})
    assert [] == calls
    (point,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points  # fmt: skip
    assert (2, 3.0) == (point.count, point.sum)


def test_a_view_that_drops_attributes_is_honoured() -> None:
    views = (View(instrument_name="op.duration", attribute_keys={"http.request.method"}),)
    expected = _run(_public, InMemoryMetricReader(), views)
    assert expected == _run(_fast, InMemoryMetricReader(), views)
    # the dropped attributes are not in the series, only in their exemplars
    assert not any("url.scheme" in str(point[1]) for point in expected)
    assert any("url.scheme" in str(point[2]) for point in expected)


def test_two_readers_both_get_every_measurement() -> None:
    first, second = InMemoryMetricReader(), InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[first, second])
    fast = FastInstrument(provider.get_meter("m").create_histogram("op.duration"))
    for _ in range(5):
        fast.record(0.5, {"a": "x"})
    assert _points(first.get_metrics_data()) == _points(second.get_metrics_data())
    assert "('count', 5)" in str(_points(second.get_metrics_data()))


def test_unhashable_and_odd_values_take_the_public_path_and_never_raise() -> None:
    def run(make: Callable[[Any], Recorder]) -> tuple[str, dict[Any, Any]]:
        reader = InMemoryMetricReader()
        histogram = MeterProvider(metric_readers=[reader]).get_meter("m").create_histogram("h")
        record = make(histogram)
        for value, attrs in [
            (1.0, {"tags": ["a", "b"]}),  # a list value: never cached (older SDKs refuse it)
            (1.0, {"tags": ["a", "b"]}),
            (1.0, {"a": "x"}),
            (math.nan, {"a": "x"}),  # whatever this SDK does with them, the same
            (-1.0, {"a": "x"}),
            (math.inf, {"a": "x"}),
            (2.0, {"a": "x"}),
        ]:
            try:
                record(value, attrs, None)
            except TypeError:  # the public call on an older SDK: FastInstrument must not
                assert make is _public
        points = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points  # fmt: skip
        by_attrs = {str(sorted(p.attributes.items())): (p.count, p.sum) for p in points}
        return repr(sorted(by_attrs.items())), getattr(record, "__self__", None)._cache if make is _fast else {}  # fmt: skip

    expected, _ = run(_public)
    actual, cache = run(_fast)
    assert expected == actual
    assert [(("a", "x"),)] == list(cache)


def test_a_proxy_instrument_is_followed_to_the_provider_set_later() -> None:
    proxy_provider = _ProxyMeterProvider()
    fast = FastInstrument(proxy_provider.get_meter("m").create_histogram("h"))
    fast.record(1.0, {"a": "x"})  # no SDK yet: the proxy drops it, nothing is cached
    assert {} == fast._cache
    reader = InMemoryMetricReader()
    proxy_provider.on_set_meter_provider(MeterProvider(metric_readers=[reader]))
    for _ in range(3):
        fast.record(1.0, {"a": "x"})
    assert len(fast._cache) == 1
    (point,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points  # fmt: skip
    assert 3 == point.count


def test_a_cardinality_guard_overflow_set_stays_on_the_public_path() -> None:
    reader = InMemoryMetricReader()
    install_cardinality_guard(2)
    try:
        fast = FastInstrument(
            MeterProvider(metric_readers=[reader]).get_meter("m").create_counter("c")
        )
        for value in ["a", "b", "c", "d", "c"]:
            fast.add(1, {"k": value})
    finally:
        from spanwise.core.metrics import uninstall_cardinality_guard

        uninstall_cardinality_guard()
    assert 2 == len(fast._cache)  # the two sets inside the limit
    points = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points  # fmt: skip
    by_attrs = {tuple(sorted(p.attributes.items())): p.value for p in points}
    assert 3 == by_attrs[(("otel.metric.overflow", True),)]


def test_the_remembered_sets_are_bounded() -> None:
    from spanwise.core import _fast_instrument

    fast = FastInstrument(MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("m").create_histogram("h"))  # fmt: skip
    for i in range(_fast_instrument._MAX_SETS + 50):
        fast.record(1.0, {"i": i})
    assert _fast_instrument._MAX_SETS == len(fast._cache)


def test_a_mapping_changed_in_place_is_recorded_with_what_it_holds_now() -> None:
    """The same dict object seen again is only trusted while it holds what it held: the export
    is what the public call gives for the same sequence (older SDKs keep the first mapping of a
    series by reference, so the expectation is the SDK's own, not written out here)."""

    def run(make: Callable[[Any], Any]) -> tuple[list[tuple[Any, ...]], Any]:
        reader = InMemoryMetricReader()
        instrument = MeterProvider(metric_readers=[reader]).get_meter("m").create_histogram("h")
        record = make(instrument)
        attrs = {"a": "x"}
        for _ in range(3):  # public, then by key, then by identity
            record(1.0, attrs)
        attrs["a"] = "y"
        record(5.0, attrs)
        attrs["b"] = "z"
        record(7.0, attrs)
        return _points(reader.get_metrics_data()), record

    expected, _ = run(lambda instrument: instrument.record)
    got, record = run(lambda instrument: FastInstrument(instrument).record)
    assert 3 == len(expected)  # three series: the comparison is not of one lumped point
    assert expected == got
    assert 1 <= len(record.__self__._by_id)  # and the identity path was taken


def test_mappings_remembered_by_identity_are_bounded() -> None:
    """A caller making a new dict per record never grows the identity map past the bound."""
    from spanwise.core import _fast_instrument

    fast = FastInstrument(MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("m").create_histogram("h"))  # fmt: skip
    for _ in range(3 * _fast_instrument._MAX_SETS):
        fast.record(1.0, {"a": "x"})
        assert len(fast._by_id) <= _fast_instrument._MAX_SETS
    assert 1 == len(fast._cache)


def test_an_instrument_of_another_sdk_is_recorded_through_its_own_api() -> None:
    from opentelemetry.metrics import NoOpMeterProvider

    fast = FastInstrument(NoOpMeterProvider().get_meter("m").create_histogram("h"))
    fast.record(1.0, {"a": "x"})
    fast.record(1.0, {"a": "x"})
    assert {} == fast._cache


def test_sdk_state_that_breaks_the_fast_path_falls_back_and_never_raises() -> None:
    reader = InMemoryMetricReader()
    fast = FastInstrument(MeterProvider(metric_readers=[reader]).get_meter("m").create_histogram("h"))  # fmt: skip
    fast.record(1.0, {"a": "x"})
    (entry,) = fast._cache.values()
    entry.targets = (None,)  # type: ignore[assignment]  # what no SDK state should look like
    fast.record(2.0, {"a": "x"})  # the check fails: recorded the public way, fast path given up
    fast.record(4.0, {"a": "x"})
    assert {} == fast._cache
    (point,) = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics[0].data.data_points  # fmt: skip
    assert (3, 7.0) == (point.count, point.sum)


def _fast_told(instrument: Any) -> Recorder:
    """The fast path, told whether the span in the context is sampled (as every tracer does)."""
    fast = FastInstrument(instrument)

    def record(value: float, attrs: dict[str, Any], ctx: Context | None) -> None:
        sampled = (
            None if ctx is None else get_current_span(ctx).get_span_context().trace_flags.sampled
        )
        fast.record(value, attrs, ctx, sampled=sampled)

    return record


def test_told_sampled_exports_what_the_public_call_exports() -> None:
    """Told the span's sampled flag, the default (trace-based) filter is not asked, and the
    points and exemplars are exactly the public call's."""
    expected = _run(_public, InMemoryMetricReader())
    assert any(point[2] for point in expected)
    assert expected == _run(_fast_told, InMemoryMetricReader())


def _one_point(exemplar_filter: Any = None) -> Any:
    """Three records told ``sampled=False`` while a sampled span is current: the one point."""
    reader = InMemoryMetricReader()
    options = {} if exemplar_filter is None else {"exemplar_filter": exemplar_filter}
    provider = MeterProvider(metric_readers=[reader], **options)
    fast = FastInstrument(provider.get_meter("test.told").create_histogram("op.duration"))
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("outer"):
        for _ in range(3):
            fast.record(0.1, {"k": "v"}, None, sampled=False)
    data = reader.get_metrics_data()
    assert data is not None
    (point,) = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    return point


def test_told_unsampled_takes_no_exemplar_under_the_trace_based_filter() -> None:
    """The measurement belongs to an unsampled span: no exemplar, even with another, sampled
    span current (it is not the measurement's)."""
    point = _one_point()
    assert (3, []) == (point.count, list(point.exemplars))


def test_told_unsampled_changes_nothing_under_another_filter() -> None:
    """With any other filter the filter decides, as for the public call."""
    from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter

    point = _one_point(AlwaysOnExemplarFilter())
    assert (3, True) == (point.count, len(point.exemplars) > 0)
