"""OpenMetrics 1.0 text (with exemplars) and Prometheus text 0.0.4 from SDK metrics data.

The official OpenTelemetry Prometheus exporter goes through ``prometheus_client``, which has no
way to carry the SDK's exemplars; this writes the exposition itself. Histogram buckets and
counter totals carry the newest exemplar that has a trace id, as
``# {trace_id="…",span_id="…"} value timestamp``.
"""

from __future__ import annotations

import json
import logging
import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    Sum,
)

from ._naming import label_name, metric_family_name, unit_suffix

__all__ = ["OPENMETRICS_CONTENT_TYPE", "TEXT_CONTENT_TYPE", "render_metrics"]

logger = logging.getLogger("spanwise")

OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_EXEMPLAR_LABEL_RUNES = 128  # OpenMetrics: names and values of an exemplar's labels together
_skipped: set[str] = set()


@dataclass
class _Family:
    name: str
    kind: str
    unit: str
    help: str
    lines: list[str] = field(default_factory=list)


def render_metrics(data: MetricsData | None, openmetrics: bool = True) -> str:
    """The exposition of *data*: OpenMetrics (with exemplars, ending ``# EOF``) or text 0.0.4.

    Monotonic sums become counters, other sums and gauges become gauges, explicit-bucket
    histograms become histograms; exponential histograms have no text form and are left out
    (logged once per metric). Resource attributes become ``target_info``; each series gets
    ``otel_scope_name`` (and ``otel_scope_version``) labels.

    .. versionadded:: 0.1.0
    """
    families: dict[str, _Family] = {}
    taken: dict[str, _Family] = {}  # sample name -> the family that writes it
    target: list[str] = []
    for resource_metrics in data.resource_metrics if data is not None else ():
        if not target:
            attributes = dict(resource_metrics.resource.attributes)
            if attributes:
                target.append(f"target_info{_labels(attributes)} 1")
        for scope_metrics in resource_metrics.scope_metrics:
            scope: dict[str, Any] = {"otel_scope_name": scope_metrics.scope.name}
            if scope_metrics.scope.version:
                scope["otel_scope_version"] = scope_metrics.scope.version
            for metric in scope_metrics.metrics:
                _add_metric(families, taken, metric, scope, openmetrics)
    out: list[str] = []
    if target:
        if openmetrics:
            out += ["# TYPE target info", "# HELP target Target metadata"]
        else:
            out += ["# HELP target_info Target metadata", "# TYPE target_info gauge"]
        out += target
    for family in families.values():
        if not family.lines:
            continue
        shown = family.name
        if not openmetrics and family.kind == "counter":
            shown = f"{family.name}_total"
        if openmetrics:
            out.append(f"# TYPE {shown} {family.kind}")
            if family.unit and shown.endswith(f"_{family.unit}"):
                out.append(f"# UNIT {shown} {family.unit}")
            if family.help:
                out.append(f"# HELP {shown} {_escape_help(family.help, True)}")
        else:
            if family.help:
                out.append(f"# HELP {shown} {_escape_help(family.help, False)}")
            out.append(f"# TYPE {shown} {family.kind}")
        out += family.lines
    if openmetrics:
        out.append("# EOF")
    return "\n".join(out) + "\n"


def _add_metric(
    families: dict[str, _Family],
    taken: dict[str, _Family],
    metric: Metric,
    scope: Mapping[str, Any],
    openmetrics: bool,
) -> None:
    data = metric.data
    if isinstance(data, Sum):
        kind = "counter" if data.is_monotonic else "gauge"
    elif isinstance(data, Gauge):
        kind = "gauge"
    elif isinstance(data, Histogram):
        kind = "histogram"
    else:
        _skip_once(metric.name, f"{type(data).__name__} has no Prometheus text form")
        return
    name = metric_family_name(metric.name, metric.unit, kind)
    family = families.get(name)
    if family is None:
        samples = _samples(name, kind)
        clash = next((taken[sample] for sample in samples if sample in taken), None)
        if clash is not None:
            _skip_once(metric.name, f"its series would clash with the {clash.kind} {clash.name}")
            return
        unit = unit_suffix(metric.unit, gauge=kind == "gauge")
        family = families[name] = _Family(name, kind, unit, metric.description or "")
        taken.update(dict.fromkeys(samples, family))
    elif family.kind != kind:
        _skip_once(metric.name, f"its name {name} is already used by a {family.kind}")
        return
    for point in data.data_points:
        if isinstance(point, HistogramDataPoint):
            _histogram_lines(family, point, scope, openmetrics)
        elif isinstance(point, NumberDataPoint):
            labels = _labels({**point.attributes, **scope} if point.attributes else scope)
            if kind == "counter":
                exemplar = _exemplar(_newest(point.exemplars)) if openmetrics else ""
                family.lines.append(f"{name}_total{labels} {_number(point.value)}{exemplar}")
            else:
                family.lines.append(f"{name}{labels} {_number(point.value)}")


def _samples(name: str, kind: str) -> set[str]:
    """The names a family's samples may use, to keep two families from sharing one."""
    if kind == "counter":
        return {name, f"{name}_total", f"{name}_created"}
    if kind == "histogram":
        return {name, f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
    return {name}


def _histogram_lines(
    family: _Family, point: HistogramDataPoint, scope: Mapping[str, Any], openmetrics: bool
) -> None:
    attributes = {**point.attributes, **scope} if point.attributes else dict(scope)
    bounds = list(point.explicit_bounds)
    per_bucket: dict[int, Any] = {}
    if openmetrics:
        for exemplar in point.exemplars:
            if exemplar.trace_id is None:
                continue
            index = bisect_left(bounds, exemplar.value)
            kept = per_bucket.get(index)
            if kept is None or exemplar.time_unix_nano >= kept.time_unix_nano:
                per_bucket[index] = exemplar
    name = family.name
    cumulative = 0
    for index, count in enumerate(point.bucket_counts):
        cumulative += count
        le = _number(float(bounds[index])) if index < len(bounds) else "+Inf"
        labels = _labels(attributes, ("le", le))
        mark = _exemplar(per_bucket.get(index))
        family.lines.append(f"{name}_bucket{labels} {cumulative}{mark}")
    if len(point.bucket_counts) <= len(bounds):  # no overflow bucket reported: close with +Inf
        family.lines.append(f"{name}_bucket{_labels(attributes, ('le', '+Inf'))} {point.count}")
    plain = _labels(attributes)
    family.lines.append(f"{name}_sum{plain} {_number(point.sum)}")
    family.lines.append(f"{name}_count{plain} {point.count}")


def _newest(exemplars: Sequence[Any]) -> Any:
    newest = None
    for exemplar in exemplars:
        if exemplar.trace_id is None:
            continue
        if newest is None or exemplar.time_unix_nano >= newest.time_unix_nano:
            newest = exemplar
    return newest


def _exemplar(exemplar: Any) -> str:
    if exemplar is None:
        return ""
    trace_id = f"{exemplar.trace_id:032x}"
    span_id = f"{exemplar.span_id or 0:016x}"
    pairs = [("trace_id", trace_id), ("span_id", span_id)]
    budget = _EXEMPLAR_LABEL_RUNES - 8 - 32 - 7 - 16
    for key, value in sorted((exemplar.filtered_attributes or {}).items()):
        label, text = label_name(str(key)), _label_value(value)
        cost = len(label) + len(text)
        if cost <= budget:
            pairs.append((label, text))
            budget -= cost
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    ns = int(exemplar.time_unix_nano)
    stamp = f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"
    return f" # {{{inner}}} {_number(exemplar.value)} {stamp}"


def _labels(attributes: Mapping[str, Any], extra: tuple[str, str] | None = None) -> str:
    merged: dict[str, str] = {}
    for key in sorted(attributes, key=str):
        name = label_name(str(key))
        text = _label_value(attributes[key])
        # Keys that clean up to the same label name share it, values joined by ";".
        merged[name] = f"{merged[name]};{text}" if name in merged else text
    if extra is not None:
        merged[extra[0]] = extra[1]
    if not merged:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in merged.items()) + "}"


def _label_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Sequence):
        return json.dumps([v if isinstance(v, (str, int, float, bool)) else str(v) for v in value])
    return str(value)


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(number)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str, openmetrics: bool) -> str:
    escaped = text.replace("\\", "\\\\").replace("\n", "\\n")
    return escaped.replace('"', '\\"') if openmetrics else escaped


def _skip_once(name: str, why: str) -> None:
    if name in _skipped:
        return
    _skipped.add(name)
    logger.warning("spanwise metrics: %r is left out of the Prometheus endpoint: %s", name, why)
