"""Prometheus naming: OpenTelemetry names, keys and units translated as the specification says."""

from __future__ import annotations

import pytest

from spanwise.core.metrics import label_name, metric_family_name, metric_name, unit_suffix


class TestMetricName:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("http.server.request.duration", "http_server_request_duration"),
            ("db.client.operation.duration", "db_client_operation_duration"),
            ("a..b--c", "a_b_c"),
            ("ns:metric", "ns:metric"),
            ("2xx.count", "_2xx_count"),
            ("café.ünits", "caf_nits"),
            ("", "_"),
        ],
    )
    def test_translation(self, name: str, expected: str) -> None:
        """Characters Prometheus forbids become one underscore; a leading digit gets one too."""
        assert expected == metric_name(name)


class TestLabelName:
    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("http.route", "http_route"),
            ("user.id", "user_id"),
            ("ns:key", "ns_key"),
            ("0day", "key_0day"),
            ("__name__", "key__name__"),
            ("_private", "_private"),
            ("", "key_"),
        ],
    )
    def test_translation(self, key: str, expected: str) -> None:
        """Keys become valid label names; leading digits and reserved '__' get a 'key' prefix."""
        assert expected == label_name(key)


class TestUnitSuffix:
    @pytest.mark.parametrize(
        ("unit", "gauge", "expected"),
        [
            ("s", False, "seconds"),
            ("ms", False, "milliseconds"),
            ("By", False, "bytes"),
            ("MiBy", False, "mebibytes"),
            ("{request}", False, ""),
            ("{packet}/s", False, "per_second"),
            ("By/s", False, "bytes_per_second"),
            ("m/s", False, "meters_per_second"),
            ("1", False, ""),
            ("1", True, "ratio"),
            ("%", True, "percent"),
            ("", False, ""),
            (None, False, ""),
            ("widgets", False, "widgets"),
        ],
    )
    def test_translation(self, unit: str | None, gauge: bool, expected: str) -> None:
        """UCUM units map to the spelled-out Prometheus suffixes; annotations vanish."""
        assert expected == unit_suffix(unit, gauge=gauge)


class TestMetricFamilyName:
    @pytest.mark.parametrize(
        ("name", "unit", "kind", "expected"),
        [
            ("http.server.request.duration", "s", "histogram", "http_server_request_duration_seconds"),
            ("http.server.active_requests", "{request}", "gauge", "http_server_active_requests"),
            ("process.memory", "By", "gauge", "process_memory_bytes"),
            ("requests.total", "1", "counter", "requests"),
            ("latency_seconds", "s", "histogram", "latency_seconds"),
            ("cpu.utilization", "1", "gauge", "cpu_utilization_ratio"),
            ("orders", "", "counter", "orders"),
        ],
    )  # fmt: skip
    def test_family(self, name: str, unit: str, kind: str, expected: str) -> None:
        """The unit suffix is added once; a counter's family drops '_total' (samples add it)."""
        assert expected == metric_family_name(name, unit, kind)
