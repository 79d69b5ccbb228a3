"""Cardinality guard: every instrument stops at a limit of attribute sets and overflows."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal import _view_instrument_match
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from spanwise.core.metrics import (
    DEFAULT_CARDINALITY_LIMIT,
    OVERFLOW_ATTRIBUTE,
    _cardinality,
    cardinality_limit,
    install_cardinality_guard,
    uninstall_cardinality_guard,
)

OVERFLOW = {OVERFLOW_ATTRIBUTE: True}


@pytest.fixture
def guard() -> Iterator[None]:
    """Whatever a test installs is uninstalled afterwards."""
    yield
    uninstall_cardinality_guard()


def points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def overflow_points(found: Iterable[Any]) -> list[Any]:
    return [p for p in found if dict(p.attributes) == OVERFLOW]


def cardinality_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cardinality limit" in r.getMessage()]


def provider(*readers: InMemoryMetricReader) -> MeterProvider:
    return MeterProvider(metric_readers=list(readers))


class TestCardinalityLimit:
    def test_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without argument or environment the limit is 2000."""
        monkeypatch.delenv("SPANWISE_METRICS_CARDINALITY_LIMIT", raising=False)
        assert 2000 == DEFAULT_CARDINALITY_LIMIT == cardinality_limit()

    def test_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SPANWISE_METRICS_CARDINALITY_LIMIT sets the limit."""
        monkeypatch.setenv("SPANWISE_METRICS_CARDINALITY_LIMIT", "50")
        assert 50 == cardinality_limit()

    def test_argument_beats_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An explicit limit wins over the environment."""
        monkeypatch.setenv("SPANWISE_METRICS_CARDINALITY_LIMIT", "50")
        assert 7 == cardinality_limit(7)

    @pytest.mark.parametrize("raw", ["lots", "0", "-3", ""])
    def test_unusable_values_fall_back(self, monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
        """Unparsable or non-positive values give the default."""
        monkeypatch.setenv("SPANWISE_METRICS_CARDINALITY_LIMIT", raw)
        assert DEFAULT_CARDINALITY_LIMIT == cardinality_limit()


class TestInstallCardinalityGuard:
    def test_user_counter_overflows_after_2000_user_ids(
        self, guard: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """5000 user ids on a counter: 2000 series plus one overflow series holding the rest."""
        monkeypatch.delenv("SPANWISE_METRICS_CARDINALITY_LIMIT", raising=False)
        assert install_cardinality_guard()
        reader = InMemoryMetricReader()
        counter = provider(reader).get_meter("shop").create_counter("logins")

        with caplog.at_level(logging.WARNING, logger="spanwise"):
            for user in range(5000):
                counter.add(1, {"user.id": f"u{user}", "http.request.method": "GET"})

        found = points(reader, "logins")
        assert 2001 == len(found)
        assert [3000] == [p.value for p in overflow_points(found)]
        assert 5000 == sum(p.value for p in found)
        warnings = cardinality_warnings(caplog)
        assert 1 == len(warnings)
        assert "'logins'" in warnings[0]
        assert "'user.id'" in warnings[0]

    def test_known_sets_keep_their_own_series(self, guard: None) -> None:
        """After the overflow, attribute sets seen before still aggregate into their series."""
        install_cardinality_guard(3)
        reader = InMemoryMetricReader()
        counter = provider(reader).get_meter("shop").create_counter("logins")
        for user in range(10):
            counter.add(1, {"user.id": user})
        counter.add(5, {"user.id": 0})

        found = {tuple(p.attributes.items()): p.value for p in points(reader, "logins")}

        assert {
            (("user.id", 0),): 6,
            (("user.id", 1),): 1,
            (("user.id", 2),): 1,
            ((OVERFLOW_ATTRIBUTE, True),): 7,
        } == found

    def test_histogram_overflow_keeps_counts(self, guard: None) -> None:
        """A histogram's overflow series counts every measurement beyond the limit."""
        install_cardinality_guard(10)
        reader = InMemoryMetricReader()
        histogram = provider(reader).get_meter("shop").create_histogram("latency", unit="s")
        for request in range(25):
            histogram.record(0.1, {"request.id": request})

        found = points(reader, "latency")

        assert 11 == len(found)
        assert [15] == [p.count for p in overflow_points(found)]

    def test_observable_instruments_are_limited(self, guard: None) -> None:
        """The user's own asynchronous instruments are limited as well."""
        install_cardinality_guard(4)
        reader = InMemoryMetricReader()

        def observe(options: CallbackOptions) -> Iterator[Observation]:
            for queue in range(9):
                yield Observation(1, {"queue": f"q{queue}"})

        provider(reader).get_meter("jobs").create_observable_gauge("depth", [observe])

        found = points(reader, "depth")

        assert 5 == len(found)
        assert 1 == len(overflow_points(found))

    def test_limit_is_per_reader_and_warned_once(
        self, guard: None, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Each reader keeps its own limited streams; the instrument is still warned about once."""
        install_cardinality_guard(5)
        first, second = InMemoryMetricReader(), InMemoryMetricReader()
        counter = provider(first, second).get_meter("shop").create_counter("carts")
        with caplog.at_level(logging.WARNING, logger="spanwise"):
            for cart in range(20):
                counter.add(1, {"cart.id": cart})

        assert (6, 6) == (len(points(first, "carts")), len(points(second, "carts")))
        assert 1 == len(cardinality_warnings(caplog))

    def test_under_the_limit_nothing_changes(
        self, guard: None, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Exactly limit attribute sets: no overflow series and no warning."""
        install_cardinality_guard(5)
        reader = InMemoryMetricReader()
        counter = provider(reader).get_meter("shop").create_counter("carts")
        with caplog.at_level(logging.WARNING, logger="spanwise"):
            for cart in range(5):
                counter.add(2, {"cart.id": cart})

        found = points(reader, "carts")

        assert ([], [2] * 5) == (overflow_points(found), [p.value for p in found])
        assert [] == cardinality_warnings(caplog)

    def test_installing_again_changes_the_limit(self, guard: None) -> None:
        """A second install sets a new limit for streams already limited."""
        install_cardinality_guard(2)
        reader = InMemoryMetricReader()
        counter = provider(reader).get_meter("shop").create_counter("carts")
        counter.add(1, {"cart.id": 0})
        install_cardinality_guard(4)
        for cart in range(1, 10):
            counter.add(1, {"cart.id": cart})

        assert 5 == len(points(reader, "carts"))

    def test_unknown_sdk_internals_change_nothing(
        self, guard: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the SDK's private stream class is not there, one warning and no patch."""
        monkeypatch.setattr(_cardinality, "_SDK_CLASS", "_RenamedInANewerSdk")
        cls = _view_instrument_match._ViewInstrumentMatch
        original = cls.__dict__["__init__"]
        with caplog.at_level(logging.WARNING, logger="spanwise"):
            installed = install_cardinality_guard(3)

        assert (False, True) == (installed, cls.__dict__["__init__"] is original)
        assert 1 == len([r for r in caplog.records if "guard is off" in r.getMessage()])

    def test_unexpected_stream_storage_is_left_alone(
        self, guard: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A stream whose storage is not a plain empty dict is logged once and not limited."""
        cls = _view_instrument_match._ViewInstrumentMatch
        original = cls.__dict__["__init__"]

        def odd_init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            self._attributes_aggregation = _OddStorage()

        monkeypatch.setattr(cls, "__init__", odd_init)
        install_cardinality_guard(2)
        reader = InMemoryMetricReader()
        counter = provider(reader).get_meter("shop").create_counter("carts")
        with caplog.at_level(logging.WARNING, logger="spanwise"):
            for cart in range(6):
                counter.add(1, {"cart.id": cart})
        uninstall_cardinality_guard()

        assert 6 == len(points(reader, "carts"))
        assert 1 == len([r for r in caplog.records if "metric stream" in r.getMessage()])


class _OddStorage(dict[Any, Any]):
    """Storage of a kind the guard does not know."""


class TestUninstallCardinalityGuard:
    def test_restores_the_sdk_constructor(self, guard: None) -> None:
        """Uninstalling puts the SDK's own __init__ back, the very same function."""
        cls = _view_instrument_match._ViewInstrumentMatch
        original = cls.__dict__["__init__"]
        install_cardinality_guard(3)
        patched = cls.__dict__["__init__"]
        uninstall_cardinality_guard()

        assert (False, True) == (patched is original, cls.__dict__["__init__"] is original)

    def test_limited_streams_stop_refusing(self, guard: None) -> None:
        """A stream limited before uninstall takes new attribute sets afterwards."""
        install_cardinality_guard(2)
        reader = InMemoryMetricReader()
        counter = provider(reader).get_meter("shop").create_counter("carts")
        counter.add(1, {"cart.id": 0})
        uninstall_cardinality_guard()
        for cart in range(1, 6):
            counter.add(1, {"cart.id": cart})

        assert 6 == len(points(reader, "carts"))

    def test_new_streams_are_unlimited(self, guard: None) -> None:
        """After uninstall, streams created later have no limit."""
        install_cardinality_guard(2)
        uninstall_cardinality_guard()
        reader = InMemoryMetricReader()
        counter = provider(reader).get_meter("shop").create_counter("carts")
        for cart in range(10):
            counter.add(1, {"cart.id": cart})

        assert 10 == len(points(reader, "carts"))

    def test_uninstall_without_install_is_a_no_op(self) -> None:
        """Uninstalling when nothing is installed does nothing."""
        cls = _view_instrument_match._ViewInstrumentMatch
        before = cls.__dict__["__init__"]
        uninstall_cardinality_guard()
        uninstall_cardinality_guard()
        assert before is cls.__dict__["__init__"]
