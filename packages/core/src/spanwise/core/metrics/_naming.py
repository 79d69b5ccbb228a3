"""OpenTelemetry names to Prometheus names, the way the OpenTelemetry specification says.

Dots and other characters Prometheus does not allow become ``_``; the unit becomes a suffix
(``s`` → ``_seconds``, ``By`` → ``_bytes``, ``{request}`` → nothing, ``1`` → ``_ratio`` on
gauges); counters end in ``_total``.
"""

from __future__ import annotations

import re

__all__ = ["label_name", "metric_family_name", "metric_name", "unit_suffix"]

_INVALID_METRIC = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_REPEATED = re.compile(r"__+")
_ANNOTATION = re.compile(r"\{[^}]*\}")

_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "%": "percent",
}
_PER_UNITS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}


def metric_name(name: str) -> str:
    """*name* with every character Prometheus does not allow replaced by one ``_``.

    .. versionadded:: 0.1.0
    """
    cleaned = _REPEATED.sub("_", _INVALID_METRIC.sub("_", name))
    if not cleaned:
        return "_"
    return f"_{cleaned}" if cleaned[0].isdigit() else cleaned


def label_name(key: str) -> str:
    """An attribute key as a Prometheus label name (``http.route`` → ``http_route``).

    .. versionadded:: 0.1.0
    """
    cleaned = _INVALID_LABEL.sub("_", key)
    if not cleaned:
        return "key_"
    if cleaned[0].isdigit():
        return f"key_{cleaned}"
    if cleaned.startswith("__"):  # reserved for Prometheus itself
        return f"key{cleaned}"
    return cleaned


def _clean_unit(unit: str) -> str:
    return _REPEATED.sub("_", _INVALID_LABEL.sub("_", unit)).strip("_")


def unit_suffix(unit: str | None, gauge: bool = False) -> str:
    """The name suffix for an OpenTelemetry (UCUM) *unit*, without the leading ``_``.

    ``""`` when the unit adds nothing (no unit, only ``{annotations}``, or ``1`` on a
    non-gauge).

    .. versionadded:: 0.1.0
    """
    text = _ANNOTATION.sub("", unit or "").strip()
    if not text:
        return ""
    if text == "1":
        return "ratio" if gauge else ""
    if "/" in text:
        top, _, bottom = text.partition("/")
        first = _UNITS.get(top, top)
        second = _PER_UNITS.get(bottom, bottom)
        return _clean_unit(f"{first}_per_{second}" if first else f"per_{second}")
    return _clean_unit(_UNITS.get(text, text))


def metric_family_name(name: str, unit: str | None, kind: str) -> str:
    """The Prometheus metric family name for an instrument.

    *kind* is ``"counter"``, ``"gauge"`` or ``"histogram"``. A counter's family name has no
    ``_total``: the sample name adds it.

    .. versionadded:: 0.1.0
    """
    family = metric_name(name)
    counter = kind == "counter"
    if counter and family.endswith("_total"):
        family = family[: -len("_total")] or "_"
    suffix = unit_suffix(unit, gauge=kind == "gauge")
    if suffix and not family.endswith(f"_{suffix}"):
        family = f"{family}_{suffix}"
    return family
