"""SDK extensions for metrics: a Prometheus endpoint with exemplars, a cardinality guard and a
cheaper record path for instruments."""

from .._fast_instrument import FastInstrument
from ._cardinality import (
    CARDINALITY_LIMIT_ENV,
    DEFAULT_CARDINALITY_LIMIT,
    OVERFLOW_ATTRIBUTE,
    cardinality_limit,
    install_cardinality_guard,
    uninstall_cardinality_guard,
)
from ._exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, render_metrics
from ._naming import label_name, metric_family_name, metric_name, unit_suffix
from ._prometheus import DEFAULT_HOST, DEFAULT_PORT, PrometheusExemplarReader, wants_openmetrics

__all__ = [
    "CARDINALITY_LIMIT_ENV",
    "DEFAULT_CARDINALITY_LIMIT",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "OPENMETRICS_CONTENT_TYPE",
    "OVERFLOW_ATTRIBUTE",
    "TEXT_CONTENT_TYPE",
    "FastInstrument",
    "PrometheusExemplarReader",
    "cardinality_limit",
    "install_cardinality_guard",
    "label_name",
    "metric_family_name",
    "metric_name",
    "render_metrics",
    "uninstall_cardinality_guard",
    "unit_suffix",
    "wants_openmetrics",
]
