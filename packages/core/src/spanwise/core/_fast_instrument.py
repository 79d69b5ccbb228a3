"""Metric records with the SDK's per-call bookkeeping done once per attribute set.

``Histogram.record()`` and ``Counter.add()`` in the Python SDK clean the attributes, copy them,
hash them into a nested tuple, look up the view storage and only then add the value to a bucket.
For a plugin that records the same few attribute sets millions of times, all of that but the
bucket is the same work every time: with five attributes it is three quarters of a record.

:class:`FastInstrument` makes the public ``record()`` or ``add()`` call the first time it sees an
attribute set, then asks the SDK's own storage which aggregations took it, and from then on hands
those aggregations the measurement directly, as the SDK would: the same ``Measurement``, the same
exemplar filter, the same ``aggregate()`` call. Private SDK state is used only after it was
checked to look exactly as expected, every record re-checks that each aggregation is still the
one the SDK holds for the set, and anything unexpected (another SDK, a proxy without a provider,
a reader added later, an overflowed attribute set, a value that is not a finite non-negative
number) falls back to the public call. What is exported is the same either way.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.metrics import Counter, Histogram
from opentelemetry.trace import INVALID_SPAN, set_span_in_context

__all__ = ["FastInstrument"]

logger = logging.getLogger("spanwise")

_MAX_SETS = 1024
"""Attribute sets remembered per instrument; sets beyond it are recorded the public way."""

_now = time.time_ns
_new = object.__new__
_get_current = otel_context.get_current
# The context a measurement carries when the caller said its span is not sampled and gave
# none: one whose span is the invalid span (not empty: the SDK reads "empty" as "current").
_NO_SPAN = set_span_in_context(INVALID_SPAN, Context())


def _trace_based_filter() -> Any:
    """The SDK's trace-based exemplar filter class, or None without the SDK."""
    try:
        from opentelemetry.sdk.metrics import TraceBasedExemplarFilter
    except ImportError:  # no SDK: the fast path is off anyway
        return None
    return TraceBasedExemplarFilter


_TraceBasedExemplarFilter: Any = _trace_based_filter()


def _sdk_parts() -> tuple[Any, Any, Any, Any] | None:
    """The SDK classes and key function the fast path relies on, or None if they differ."""
    try:
        from opentelemetry.sdk.metrics._internal import _view_instrument_match as vim_module
        from opentelemetry.sdk.metrics._internal.instrument import Counter as SdkCounter
        from opentelemetry.sdk.metrics._internal.instrument import Histogram as SdkHistogram
        from opentelemetry.sdk.metrics._internal.measurement import Measurement
    except ImportError:
        return None
    if "__slots__" in vars(Measurement) or not dataclasses.is_dataclass(Measurement):
        return None
    hash_attributes = getattr(vim_module, "_hash_attributes", None)
    if hash_attributes is None:  # SDKs before 1.40 keyed the storage by a frozenset

        def hash_attributes(attributes: Mapping[str, Any]) -> Any:
            return frozenset(attributes.items())

    return (SdkHistogram, SdkCounter), Measurement, vim_module._ViewInstrumentMatch, hash_attributes


_SDK = _sdk_parts()
_Measurement: Any = _SDK[1] if _SDK is not None else None


class _Target:
    """One view stream that aggregates the attribute set, and the SDK's key for it there."""

    __slots__ = ("aggregation", "key", "stream")

    def __init__(self, stream: Any, key: Any, aggregation: Any) -> None:
        self.stream = stream
        self.key = key
        self.aggregation = aggregation


class _Entry:
    __slots__ = ("attributes", "snapshot", "storages", "targets")

    def __init__(
        self,
        storages: Any,
        targets: tuple[_Target, ...],
        attributes: Any,
        snapshot: dict[str, Any],
    ) -> None:
        self.storages = storages
        self.targets = targets
        self.attributes = attributes
        self.snapshot = snapshot
        """The attribute set as first recorded: a mapping seen again by identity is compared
        with it, so one changed in place since is not taken for what it was."""


class FastInstrument:
    """Wraps a histogram or a counter made by a meter; :meth:`record` (or its alias :meth:`add`)
    is ``Histogram.record`` (``Counter.add``) made cheaper.

    Attribute values must be hashable for the fast path (strings, numbers, booleans, as every
    Spanwise metric attribute is); a mapping with a list value is simply recorded the public way.

    .. versionadded:: 0.2.0
    """

    __slots__ = (
        "_by_id",
        "_cache",
        "_consumer",
        "_filter",
        "_instrument",
        "_lock",
        "_public",
        "_refused",
        "_trace_based",
        "wrapped",
    )

    def __init__(self, instrument: Histogram | Counter) -> None:
        self.wrapped = instrument
        """The histogram or counter as the meter made it."""
        self._public: Any = (
            instrument.record if isinstance(instrument, Histogram) else instrument.add
        )
        self._instrument: Any = None
        self._consumer: Any = None
        self._filter: Any = None
        self._cache: dict[tuple[tuple[str, Any], ...], _Entry] = {}
        # Mappings recorded before, by id(): the mapping itself is kept (so its id is not
        # reused while it is here) with its entry. Callers that reuse one dict per attribute
        # set (every Spanwise tracer) skip building and hashing the key tuple.
        self._by_id: dict[int, tuple[Mapping[str, Any], _Entry]] = {}
        self._lock = threading.Lock()
        self._refused = False
        # Whether the exemplar filter is the SDK's trace-based one (the default): its answer
        # for a measurement of a known span is that span's sampled flag.
        self._trace_based = False

    def record(
        self,
        amount: float,
        attributes: Mapping[str, Any],
        context: Context | None = None,
        *,
        sampled: bool | None = None,
    ) -> None:
        """Record *amount* with *attributes*; *context* (default: the current one) is where the
        exemplar filter looks for a sampled span. Never raises for a bad value: the SDK logs it.

        *sampled*, when the caller knows it, is whether the span the measurement belongs to
        is sampled: the span in *context* (give ``True`` only with it), or, for ``False``
        without a context, a span not made current. Under the SDK's trace-based exemplar
        filter, the default, that is the filter's answer, and it is not asked (an unsampled
        span's measurement takes no exemplar from whatever other span is current); with any
        other filter it changes nothing.

        .. versionchanged:: 0.2.0 *sampled*.
        """
        seen = self._by_id.get(id(attributes))
        if seen is not None and seen[0] is attributes and seen[1].snapshot == attributes:
            entry: _Entry | None = seen[1]
        else:
            try:
                entry = self._cache[tuple(attributes.items())]
            except (KeyError, TypeError):
                entry = None
            else:
                self._remember(attributes, entry)
        try:
            if (
                entry is None
                or entry.storages is not self._consumer._reader_storages
                or not 0 <= amount < _INF
            ):
                entry = None
            else:
                for target in entry.targets:
                    stored = target.stream._attributes_aggregation.get(target.key)
                    if stored is not target.aggregation:
                        entry = None
                        break
            if entry is not None:
                now = _now()
                cleaned = entry.attributes
                if sampled is not None and self._trace_based:
                    ctx = context if context is not None else _NO_SPAN
                    sample = sampled
                else:
                    ctx = context or _get_current()  # as the SDK: empty means "current"
                    sample = self._filter.should_sample(amount, now, cleaned, ctx)
                measurement = _new(_Measurement)
                # The dataclass is frozen; its __init__ sets the five fields one by one through
                # object.__setattr__ and cleans the attributes again. Same fields, one call.
                measurement.__dict__.update(
                    value=amount,
                    time_unix_nano=now,
                    instrument=self._instrument,
                    context=ctx,
                    attributes=cleaned,
                )
        except Exception:  # noqa: BLE001 - SDK state not as expected: nothing recorded yet
            self._give_up()
            entry = None
        if entry is None:
            if sampled is False and context is None and self._resolve() and self._trace_based:
                context = _NO_SPAN  # as the fast path: not the current span's exemplar
            self._record_slow(amount, attributes, context)
            return
        try:
            for target in entry.targets:
                target.aggregation.aggregate(measurement, sample)
        except Exception:  # noqa: BLE001 - an aggregation changed under us: stop using them
            self._give_up()

    add = record

    # -- the public way, and learning the attribute set from it ------------------------------

    def _record_slow(
        self, amount: float, attributes: Mapping[str, Any], context: Context | None
    ) -> None:
        try:
            self._public(amount, attributes, context=context)
        except Exception:  # an SDK that refuses the value (older ones raise on a list value)
            if not self._refused:
                self._refused = True
                logger.warning("spanwise: a metric record was refused", exc_info=True)
            return
        try:
            self._learn(attributes)
        except Exception:  # noqa: BLE001 - never the app's problem: the public path stays
            self._give_up()

    def _remember(self, attributes: Mapping[str, Any], entry: _Entry) -> None:
        by_id = self._by_id
        if len(by_id) >= _MAX_SETS:
            by_id.clear()  # callers making a new mapping per record: start over, stay bounded
        by_id[id(attributes)] = (attributes, entry)

    def _give_up(self) -> None:
        """Record the public way from now on (SDK state was not what the fast path expects)."""
        logger.debug("spanwise: fast metric path unavailable", exc_info=True)
        self._consumer = _NO_CONSUMER
        self._cache.clear()
        self._by_id.clear()

    def _resolve(self) -> bool:
        """Find the SDK instrument behind the wrapped one (through the API's proxy)."""
        if self._consumer is _NO_CONSUMER or _SDK is None:
            return False
        if self._consumer is not None:
            return True
        instrument: Any = self.wrapped
        if not isinstance(instrument, _SDK[0]):
            instrument = getattr(instrument, "_real_instrument", None)
            if instrument is None:
                return False  # a proxy with no SDK behind it yet; look again next time
            if not isinstance(instrument, _SDK[0]):
                self._consumer = _NO_CONSUMER  # another SDK: the public path it is
                return False
        consumer = getattr(instrument, "_measurement_consumer", None)
        config = getattr(consumer, "_sdk_config", None)
        exemplar_filter = getattr(config, "exemplar_filter", None)
        if exemplar_filter is None or not isinstance(
            getattr(consumer, "_reader_storages", None), Mapping
        ):
            self._consumer = _NO_CONSUMER
            return False
        self._instrument = instrument
        self._filter = exemplar_filter
        self._trace_based = type(exemplar_filter) is _TraceBasedExemplarFilter
        self._consumer = consumer
        return True

    def _learn(self, attributes: Mapping[str, Any]) -> None:
        if len(self._cache) >= _MAX_SETS or not self._resolve():
            return
        enabled = getattr(self._instrument, "_is_enabled", None)
        if enabled is not None and not enabled():
            return
        try:
            cache_key = tuple(attributes.items())
            hash(cache_key)
        except TypeError:
            return
        assert _SDK is not None
        _, measurement_class, stream_class, hash_attributes = _SDK
        cleaned = measurement_class(0, 0, self._instrument, _EMPTY, attributes).attributes
        storages = self._consumer._reader_storages
        targets: list[_Target] = []
        for storage in storages.values():
            streams = getattr(storage, "_instrument_view_instrument_matches", {}).get(
                self._instrument
            )
            if not streams:
                return
            for stream in streams:
                if type(stream) is not stream_class:
                    return
                keys = stream._view._attribute_keys
                own = dict(cleaned or {})
                if keys is not None:
                    own = {k: v for k, v in own.items() if k in keys}
                key = hash_attributes(own)
                stored = stream._attributes_aggregation
                aggregation = stored.get(key)
                if aggregation is None:
                    return  # not stored under the key we expect (or overflowed): stay public
                # The SDK's own key object: later lookups then match by identity, not by
                # comparing nested tuples.
                key = next((k for k in list(stored) if k == key), key)
                targets.append(_Target(stream, key, aggregation))
        if not targets:
            return
        with self._lock:
            self._cache[cache_key] = _Entry(storages, tuple(targets), cleaned, dict(attributes))


_INF = float("inf")
_EMPTY = Context()
_NO_CONSUMER: Any = object()
