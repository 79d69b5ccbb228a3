"""spanwise.core._logs: ids, severities, bounded attributes and the log record emitter."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from spanwise.core import _logs
from spanwise.core.testing import CapturedTelemetry


class TestFormatting:
    def test_ids(self) -> None:
        """Zero-padded lower-case hex, as in traceparent."""
        assert ("0" * 31 + "f", "0" * 15 + "a", "01") == (
            _logs.format_trace_id(15),
            _logs.format_span_id(10),
            _logs.format_trace_flags(1),
        )


class TestSeverity:
    @pytest.mark.parametrize(
        ("levelno", "expected"),
        [
            (0, (SeverityNumber.UNSPECIFIED, "")),
            (10, (SeverityNumber.DEBUG, "DEBUG")),
            (11, (SeverityNumber.DEBUG2, "DEBUG")),
            (19, (SeverityNumber.DEBUG4, "DEBUG")),
            (20, (SeverityNumber.INFO, "INFO")),
            (30, (SeverityNumber.WARN, "WARN")),
            (40, (SeverityNumber.ERROR, "ERROR")),
            (50, (SeverityNumber.FATAL, "FATAL")),
            (99, (SeverityNumber.FATAL4, "FATAL")),
        ],
    )
    def test_from_levelno(self, levelno: int, expected: tuple[SeverityNumber, str]) -> None:
        """Level numbers map as the SDK's handler maps them."""
        assert expected == _logs.severity_from_levelno(levelno)

    def test_from_name(self) -> None:
        """Names in any case map; unknown ones are UNSPECIFIED with the name as text."""
        assert (SeverityNumber.WARN, "WARN") == _logs.severity_from_name("WARNING")
        assert (SeverityNumber.UNSPECIFIED, "loud") == _logs.severity_from_name("loud")
        assert (SeverityNumber.UNSPECIFIED, "") == _logs.severity_from_name(None)


class TestAttributes:
    def test_values(self) -> None:
        """Primitives and homogeneous sequences kept; the rest bounded strings."""
        actual = _logs.log_attributes(
            [("s", "x"), ("i", 1), ("f", 1.5), ("b", True), ("l", [1, 2]), ("t", ("a",)),
             ("mixed", [1, "a"]), ("big", 2**70), ("none", None), ("bytes", b"\xff"), (3, "k")]
        )  # fmt: skip
        expected = {
            "s": "x", "i": 1, "f": 1.5, "b": True, "l": (1, 2), "t": ("a",),
            "mixed": "[1, 'a']", "big": str(2**70), "bytes": "\ufffd", "3": "k",
        }  # fmt: skip
        assert expected == actual

    def test_bounds(self) -> None:
        """At most MAX_LOG_ATTRIBUTES, strings cut to the attribute length limit."""
        actual = _logs.log_attributes([(f"k{i}", "v" * 10_000) for i in range(500)])
        assert _logs.MAX_LOG_ATTRIBUTES == len(actual)
        assert {4096} == {len(v) for v in actual.values()}

    def test_skip(self) -> None:
        """Keys in skip are left out."""
        assert {"b": 2} == _logs.log_attributes([("a", 1), ("b", 2)], frozenset({"a"}))

    def test_broken_str(self) -> None:
        """An object whose str and repr raise becomes a placeholder."""

        class Broken:
            def __str__(self) -> str:
                raise RuntimeError

            __repr__ = __str__

        assert "<unrepresentable Broken>" == _logs.log_value(Broken(), 100)


class TestLogEmitter:
    def test_emit(self, telemetry: CapturedTelemetry) -> None:
        """A record with scope, severity, body, attributes and the current span."""
        emitter = _logs.LogEmitter("fallback", "1.0")
        ctx = SpanContext(7, 9, is_remote=False, trace_flags=TraceFlags(1))
        with trace.use_span(NonRecordingSpan(ctx)):
            emitter.emit("billing", (SeverityNumber.INFO, "INFO"), "hi", {"a": 1}, timestamp=5)
        (data,) = telemetry.logs()
        record = data.log_record
        assert ("billing", "hi", {"a": 1}, 5, 7, 9) == (
            data.instrumentation_scope.name,
            record.body,
            dict(record.attributes),
            record.timestamp,
            record.trace_id,
            record.span_id,
        )

    def test_explicit_context(self, telemetry: CapturedTelemetry) -> None:
        """A context given wins over the current one."""
        emitter = _logs.LogEmitter("fallback", "1.0")
        ctx = SpanContext(3, 4, is_remote=False)
        emitter.emit(
            None,
            (SeverityNumber.INFO, "INFO"),
            "x",
            {},
            context=trace.set_span_in_context(NonRecordingSpan(ctx)),
        )
        (data,) = telemetry.logs()
        assert ("fallback", 3) == (data.instrumentation_scope.name, data.log_record.trace_id)

    def test_scopes_bounded(self, telemetry: CapturedTelemetry, monkeypatch: Any) -> None:
        """Past MAX_SCOPES names, records use the fallback scope."""
        monkeypatch.setattr(_logs, "MAX_SCOPES", 2)
        emitter = _logs.LogEmitter("fallback", "1.0")
        for name in ("a", "b", "c"):
            emitter.emit(name, (SeverityNumber.INFO, "INFO"), name, {})
        assert ["a", "b", "fallback"] == [d.instrumentation_scope.name for d in telemetry.logs()]


class TestStdlibExport:
    def test_counting(self) -> None:
        """Active while at least one exporter is started; never below zero."""
        _logs.stdlib_export_started()
        _logs.stdlib_export_started()
        _logs.stdlib_export_stopped()
        assert _logs.stdlib_export_active()
        _logs.stdlib_export_stopped()
        _logs.stdlib_export_stopped()
        assert not _logs.stdlib_export_active()
