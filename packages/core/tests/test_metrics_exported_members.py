"""The public surface of spanwise.core.metrics, pinned."""

from __future__ import annotations

import spanwise.core.metrics


class TestExportedMembers:
    def test_metrics(self) -> None:
        """spanwise.core.metrics exports exactly these names."""
        assert sorted(
            [
                "CARDINALITY_LIMIT_ENV", "DEFAULT_CARDINALITY_LIMIT", "DEFAULT_HOST", "DEFAULT_PORT",
                "FastInstrument",
                "OPENMETRICS_CONTENT_TYPE", "OVERFLOW_ATTRIBUTE", "PrometheusExemplarReader",
                "TEXT_CONTENT_TYPE", "cardinality_limit", "install_cardinality_guard", "label_name",
                "metric_family_name", "metric_name", "render_metrics", "uninstall_cardinality_guard",
                "unit_suffix", "wants_openmetrics",
            ]
        ) == sorted(spanwise.core.metrics.__all__)  # fmt: skip

    def test_every_name_resolves(self) -> None:
        """Every exported name exists."""
        missing = [
            n for n in spanwise.core.metrics.__all__ if not hasattr(spanwise.core.metrics, n)
        ]
        assert [] == missing
