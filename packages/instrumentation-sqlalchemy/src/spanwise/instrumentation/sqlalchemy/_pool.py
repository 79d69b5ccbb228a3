"""``db.client.connection.count``: idle and used connections of each engine's pool.

Observed when metrics are collected, from the pool's own counters, so checking connections
in and out costs nothing extra. Pools that keep counters (``QueuePool`` and
``AsyncAdaptedQueuePool``: the defaults for server databases and file SQLite) are reported;
pools that keep none (``NullPool``, ``StaticPool``, ``SingletonThreadPool``) are not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from spanwise.core.semconv import (
    DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_POOL_NAME,
    DB_CLIENT_CONNECTION_STATE,
)

from ._attributes import pool_name
from ._listeners import EngineTracer

__all__ = ["PoolUsage"]

_registry_lock = threading.Lock()
_registry: dict[int, tuple[metrics.Meter, PoolUsage]] = {}


class PoolUsage:
    """The connection-count instrument of one meter and the tracers whose engines it reports.

    An observable instrument cannot be taken back from a meter, so there is one per meter
    for the life of the process, reporting the engines of the tracers currently added.
    """

    __slots__ = ("_lock", "_tracers")

    @classmethod
    def for_meter(cls, meter: metrics.Meter) -> PoolUsage:
        """The one :class:`PoolUsage` of *meter*, creating its instrument on first use."""
        with _registry_lock:
            found = _registry.get(id(meter))
            if found is not None and found[0] is meter:
                return found[1]
            usage = cls()
            meter.create_observable_up_down_counter(
                DB_CLIENT_CONNECTION_COUNT,
                callbacks=[usage.observe],
                unit="{connection}",
                description="The number of connections that are currently in the state "
                "described by the state attribute.",
            )
            _registry[id(meter)] = (meter, usage)
            return usage

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tracers: list[EngineTracer] = []

    def add(self, tracer: EngineTracer) -> None:
        """Report the pools of the engines *tracer* sees."""
        with self._lock:
            if tracer not in self._tracers:
                self._tracers.append(tracer)

    def discard(self, tracer: EngineTracer) -> None:
        """Stop reporting for *tracer*."""
        with self._lock:
            if tracer in self._tracers:
                self._tracers.remove(tracer)

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        """One observation per pool name and state; never raises into the metric reader."""
        with self._lock:
            tracers = list(self._tracers)
        totals: dict[tuple[str, str], int] = {}
        seen: set[int] = set()
        for tracer in tracers:
            for engine, info in tracer.engines():
                try:
                    pool = engine.pool
                    if id(pool) in seen:
                        continue
                    seen.add(id(pool))
                    counts = _counts(pool)
                    if counts is None:
                        continue
                    name = pool_name(pool, info)
                    for state, count in (("idle", counts[0]), ("used", counts[1])):
                        key = (name, state)
                        totals[key] = totals.get(key, 0) + count
                except Exception:  # noqa: BLE001 - an odd pool must not stop the others
                    continue
        return [
            Observation(
                count,
                {DB_CLIENT_CONNECTION_STATE: state, DB_CLIENT_CONNECTION_POOL_NAME: name},
            )
            for (name, state), count in totals.items()
        ]


def _counts(pool: Any) -> tuple[int, int] | None:
    """(idle, used) from a pool that keeps counters, else ``None``."""
    checkedin = getattr(pool, "checkedin", None)
    checkedout = getattr(pool, "checkedout", None)
    if not callable(checkedin) or not callable(checkedout):
        return None
    return max(0, int(checkedin())), max(0, int(checkedout()))
