"""Tail-sampling policies, in the schema of the Collector's ``tail_sampling`` processor."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

__all__ = ["Policy", "parse_duration", "policy_from_config"]

_TRACE_ID_LOW = (1 << 64) - 1
Policy = Callable[[Sequence[ReadableSpan]], bool]
"""Decides for a whole trace (every span buffered for it): True keeps it."""


def parse_duration(value: Any) -> float:
    """``"10s"``, ``"500ms"``, ``"1m"`` or a number of seconds, in seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    match = re.fullmatch(r"\s*([\d.]+)\s*(ms|s|m|h)?\s*", str(value))
    if match is None:
        raise ValueError(f"not a duration: {value!r}")
    number = float(match.group(1))
    unit = match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]


@dataclass(frozen=True)
class _StatusCode:
    codes: frozenset[StatusCode]

    def __call__(self, spans: Sequence[ReadableSpan]) -> bool:
        return any(s.status.status_code in self.codes for s in spans)


@dataclass(frozen=True)
class _Latency:
    threshold_s: float
    upper_s: float | None

    def __call__(self, spans: Sequence[ReadableSpan]) -> bool:
        starts = [s.start_time for s in spans if s.start_time]
        ends = [s.end_time for s in spans if s.end_time]
        if not starts or not ends:
            return False
        duration = (max(ends) - min(starts)) / 1e9
        return duration >= self.threshold_s and (self.upper_s is None or duration <= self.upper_s)


@dataclass(frozen=True)
class _Probabilistic:
    bound: int

    def __call__(self, spans: Sequence[ReadableSpan]) -> bool:
        # A function of the trace id alone (its random low 64 bits, as TraceIdRatioBased uses),
        # so every service keeps the same traces.
        return bool(spans) and (spans[0].context.trace_id & _TRACE_ID_LOW) < self.bound


@dataclass(frozen=True)
class _StringAttribute:
    key: str
    values: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    invert: bool

    def _matches(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if self.patterns:
            return any(p.fullmatch(value) for p in self.patterns)
        return value in self.values

    def __call__(self, spans: Sequence[ReadableSpan]) -> bool:
        found = any(self._matches((s.attributes or {}).get(self.key)) for s in spans)
        return not found if self.invert else found


@dataclass(frozen=True)
class _NumericAttribute:
    key: str
    low: float | None
    high: float | None

    def __call__(self, spans: Sequence[ReadableSpan]) -> bool:
        for s in spans:
            value = (s.attributes or {}).get(self.key)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if (self.low is None or value >= self.low) and (
                self.high is None or value <= self.high
            ):
                return True
        return False


def _always(spans: Sequence[ReadableSpan]) -> bool:
    return True


def policy_from_config(config: Mapping[str, Any]) -> Policy:
    """One policy from its Collector-style mapping, e.g.
    ``{"name": "slow", "type": "latency", "latency": {"threshold_ms": 1000}}``."""
    kind = config.get("type")
    body = config.get(kind, {}) if isinstance(kind, str) else {}
    if kind == "always_sample":
        return _always
    if kind == "status_code":
        names = body.get("status_codes", ["ERROR"])
        return _StatusCode(frozenset(StatusCode[str(n).upper()] for n in names))
    if kind == "latency":
        upper = body.get("upper_threshold_ms")
        return _Latency(float(body["threshold_ms"]) / 1000, float(upper) / 1000 if upper else None)
    if kind == "probabilistic":
        pct = float(body.get("sampling_percentage", 0))
        pct = min(max(pct, 0.0), 100.0)
        return _Probabilistic(round(pct / 100 * (_TRACE_ID_LOW + 1)))
    if kind == "string_attribute":
        regex = bool(body.get("enabled_regex_matching", False))
        values = [str(v) for v in body.get("values", [])]
        return _StringAttribute(
            str(body["key"]),
            frozenset(values),
            tuple(re.compile(v) for v in values) if regex else (),
            bool(body.get("invert_match", False)),
        )
    if kind == "numeric_attribute":
        low, high = body.get("min_value"), body.get("max_value")
        return _NumericAttribute(
            str(body["key"]),
            float(low) if low is not None else None,
            float(high) if high is not None else None,
        )
    raise ValueError(f"unknown tail-sampling policy type: {kind!r}")
