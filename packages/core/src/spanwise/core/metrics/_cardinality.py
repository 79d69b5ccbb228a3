"""A limit on distinct attribute sets for every metric instrument, the user's own included.

The Python SDK keeps one aggregation per distinct attribute set and never forgets one, so a
counter given ``user.id`` grows without bound. The guard swaps each metric stream's storage
(``_ViewInstrumentMatch._attributes_aggregation``, private SDK state, checked at install time)
for a dict that stops taking new attribute sets at the limit: later sets are aggregated into one
overflow series with ``otel.metric.overflow=true``, as the OpenTelemetry specification asks, and
one warning names the instrument and the attribute whose values keep growing.

Attribute sets already seen cost nothing extra: the dict subclass only overrides
``__setitem__`` (called once per new set) and ``__missing__`` (only for overflowed sets).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any

from .._config import env_int
from .._guard import Guard
from .._patching import Call, Patcher

__all__ = [
    "CARDINALITY_LIMIT_ENV",
    "DEFAULT_CARDINALITY_LIMIT",
    "OVERFLOW_ATTRIBUTE",
    "cardinality_limit",
    "install_cardinality_guard",
    "uninstall_cardinality_guard",
]

logger = logging.getLogger("spanwise")

DEFAULT_CARDINALITY_LIMIT = 2000
"""Distinct attribute sets per instrument per reader when nothing else is configured."""

CARDINALITY_LIMIT_ENV = "SPANWISE_METRICS_CARDINALITY_LIMIT"
"""The environment variable that sets the limit."""

OVERFLOW_ATTRIBUTE = "otel.metric.overflow"
"""The one attribute of the overflow series (value ``True``)."""

_SDK_MODULE = "opentelemetry.sdk.metrics._internal._view_instrument_match"
_SDK_CLASS = "_ViewInstrumentMatch"
_OVERFLOW_KEY = ("spanwise", "otel.metric.overflow")  # never produced by the SDK's hashing


def cardinality_limit(limit: int | None = None) -> int:
    """The effective limit: *limit*, else ``SPANWISE_METRICS_CARDINALITY_LIMIT``, else 2000.

    Values below 1 fall back to the default.

    .. versionadded:: 0.1.0
    """
    value = (
        limit if limit is not None else env_int(CARDINALITY_LIMIT_ENV, DEFAULT_CARDINALITY_LIMIT)
    )
    return value if value >= 1 else DEFAULT_CARDINALITY_LIMIT


class _State:
    """What the installed guard shares with every limited stream."""

    __slots__ = ("guard", "limit", "lock", "on", "patcher", "warned")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.on = True
        self.guard = Guard("metrics")
        self.patcher = Patcher(self.guard)
        self.warned: set[str] = set()
        self.lock = threading.Lock()


_installed: _State | None = None
_install_lock = threading.Lock()


class _LimitedAggregations(dict[Any, Any]):
    """A stream's attribute-set → aggregation map that overflows at the limit.

    The SDK checks ``key not in d`` (dict's own, in C), inserts under the stream's lock, then
    reads ``d[key]``. A refused insert makes that read miss, and ``__missing__`` answers with
    the overflow aggregation.
    """

    __slots__ = ("_name", "_overflow", "_state")

    def __init__(self, state: _State, name: str) -> None:
        super().__init__()
        self._state = state
        self._name = name
        self._overflow: Any = None

    def __setitem__(self, key: Any, value: Any) -> None:
        state = self._state
        if not state.on or len(self) < state.limit or dict.__contains__(self, key):
            dict.__setitem__(self, key, value)
            return
        try:
            if self._overflow is None:
                # Reuse the aggregation the SDK just built, relabelled as the overflow series.
                value._attributes = {OVERFLOW_ATTRIBUTE: True}
                dict.__setitem__(self, _OVERFLOW_KEY, value)
                self._overflow = value
                _warn(state, self._name, self.values(), value)
        except Exception as exc:  # noqa: BLE001 - never break a measurement
            state.guard.report("cardinality overflow", exc)
            if self._overflow is None:
                dict.__setitem__(self, key, value)

    def __missing__(self, key: Any) -> Any:
        if self._overflow is None:
            raise KeyError(key)
        return self._overflow


def _warn(state: _State, name: str, aggregations: Iterable[Any], overflow: Any) -> None:
    with state.lock:
        if name in state.warned:
            return
        state.warned.add(name)
    culprit, distinct = _growing_attribute(aggregations, overflow)
    logger.warning(
        "spanwise metrics: instrument %r reached its cardinality limit of %d attribute sets; "
        "new sets now go to one series with %s=true. The attribute whose values keep growing "
        "is %r (%d distinct values): drop it from this instrument's attributes (or raise %s)",
        name,
        state.limit,
        OVERFLOW_ATTRIBUTE,
        culprit,
        distinct,
        CARDINALITY_LIMIT_ENV,
    )


def _growing_attribute(aggregations: Iterable[Any], skip: Any) -> tuple[str | None, int]:
    """The attribute key with the most distinct values among the stream's attribute sets."""
    seen: dict[str, set[Any]] = {}
    for aggregation in aggregations:
        if aggregation is skip:
            continue
        attributes = getattr(aggregation, "_attributes", None) or {}
        for key, value in attributes.items():
            try:
                hash(value)
                distinct = value
            except TypeError:
                distinct = repr(value)
            seen.setdefault(key, set()).add(distinct)
    if not seen:
        return None, 0
    key = max(seen, key=lambda k: len(seen[k]))
    return key, len(seen[key])


def _sdk_class() -> Any:
    import importlib

    module = importlib.import_module(_SDK_MODULE)
    cls = getattr(module, _SDK_CLASS)
    for attribute in ("__init__", "consume_measurement", "collect"):
        if attribute not in vars(cls):
            raise AttributeError(f"{_SDK_CLASS}.{attribute} is missing")
    return cls


def _limit_stream(state: _State) -> Callable[..., Generator[Call, Any, None]]:
    def step(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Generator[Call, Any, None]:
        yield None
        current = getattr(instance, "_attributes_aggregation", None)
        if type(current) is not dict or current:
            raise TypeError("unexpected _ViewInstrumentMatch storage; stream left unlimited")
        name = str(getattr(instance, "_name", None) or instance._instrument.name)
        instance._attributes_aggregation = _LimitedAggregations(state, name)

    return step


def install_cardinality_guard(limit: int | None = None) -> bool:
    """Limit every metric stream created from now on to *limit* distinct attribute sets.

    *limit* defaults to ``SPANWISE_METRICS_CARDINALITY_LIMIT`` or 2000. Install it before the
    first measurement (the distro does so at start-up): streams that already exist stay as
    they are. Installing again changes the limit for every limited stream. Returns ``False``,
    after one logged warning, if the SDK's internals are not what the guard expects; nothing
    is changed then.

    .. versionadded:: 0.1.0
    """
    global _installed
    with _install_lock:
        if _installed is not None:
            _installed.limit = cardinality_limit(limit)
            return True
        try:
            cls = _sdk_class()
        except Exception as exc:  # noqa: BLE001
            logger.warning(
                "spanwise metrics: the cardinality guard is off: this OpenTelemetry SDK's "
                "metric internals are not the ones it knows (%s)",
                exc,
            )
            return False
        state = _State(cardinality_limit(limit))
        state.patcher.wrap_object(
            cls, "__init__", state.patcher.around_sync("metric stream", _limit_stream(state))
        )
        _installed = state
        return True


def uninstall_cardinality_guard() -> None:
    """Restore the SDK's own stream constructor; limited streams stop refusing new sets.

    .. versionadded:: 0.1.0
    """
    global _installed
    with _install_lock:
        state, _installed = _installed, None
    if state is not None:
        state.on = False
        state.patcher.restore()
