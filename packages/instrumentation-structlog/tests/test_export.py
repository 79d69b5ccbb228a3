"""LogRecordExporter: each event as an OpenTelemetry log record."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber

from spanwise.core import _logs
from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.structlog import LogRecordExporter

tracer = trace.get_tracer("tests")


def export(event_dict: dict[str, Any], method: str = "info", logger: Any = None) -> Any:
    """Run the exporter on one event; return the one record emitted (or None)."""
    assert event_dict is LogRecordExporter()(logger, method, event_dict)
    return event_dict


def records(telemetry: CapturedTelemetry) -> list[Any]:
    return [r.log_record for r in telemetry.logs()]


class TestLogRecordExporter:
    def test_body_severity_attributes(self, telemetry: CapturedTelemetry) -> None:
        """Body is the event, severity the level, the other keys attributes."""
        export({"event": "paid", "level": "error", "amount": 3, "ok": False})
        (record,) = records(telemetry)
        assert "paid" == record.body
        assert (SeverityNumber.ERROR, "ERROR") == (record.severity_number, record.severity_text)
        assert {"amount": 3, "ok": False} == dict(record.attributes)

    @pytest.mark.parametrize(
        ("method", "expected"),
        [
            ("debug", SeverityNumber.DEBUG),
            ("info", SeverityNumber.INFO),
            ("msg", SeverityNumber.INFO),
            ("warning", SeverityNumber.WARN),
            ("warn", SeverityNumber.WARN),
            ("exception", SeverityNumber.ERROR),
            ("critical", SeverityNumber.FATAL),
            ("fatal", SeverityNumber.FATAL),
            ("shout", SeverityNumber.UNSPECIFIED),
        ],
    )
    def test_severity_from_method(
        self, telemetry: CapturedTelemetry, method: str, expected: SeverityNumber
    ) -> None:
        """Without a level key the method name gives the severity."""
        export({"event": "x"}, method)
        assert expected == records(telemetry)[0].severity_number

    def test_trace_context_and_no_duplicate_ids(self, telemetry: CapturedTelemetry) -> None:
        """The record carries the span; the id keys are not repeated as attributes."""
        with tracer.start_as_current_span("work") as span:
            ctx = span.get_span_context()
            export({"event": "x", "trace_id": "t", "span_id": "s", "trace_flags": "01"})
        (record,) = records(telemetry)
        assert (ctx.trace_id, ctx.span_id) == (record.trace_id, record.span_id)
        assert {} == dict(record.attributes)

    def test_no_span(self, telemetry: CapturedTelemetry) -> None:
        """Outside a span the record has no trace context."""
        export({"event": "x"})
        assert 0 == records(telemetry)[0].trace_id

    def test_values_bounded_and_stringified(self, telemetry: CapturedTelemetry) -> None:
        """Objects become strings, long strings are cut, at most 128 attributes."""
        event = {"event": "x", "obj": {"a": 1}, "long": "y" * 10_000}
        event.update({f"k{i}": i for i in range(200)})
        export(event)
        attributes = dict(records(telemetry)[0].attributes)
        assert "{'a': 1}" == attributes["obj"]
        assert 4096 == len(attributes["long"])
        assert 128 == len(attributes)

    def test_exception(self, telemetry: CapturedTelemetry) -> None:
        """exc_info becomes the record's exception attributes."""
        try:
            raise ValueError("boom")
        except ValueError:
            export({"event": "failed", "exc_info": True}, "exception")
        attributes = dict(records(telemetry)[0].attributes)
        assert ("ValueError", "boom") == (
            attributes["exception.type"],
            attributes["exception.message"],
        )

    def test_scope_is_logger_name(self, telemetry: CapturedTelemetry) -> None:
        """The logger key (add_logger_name) names the instrumentation scope."""
        export({"event": "x", "logger": "billing"})
        assert "billing" == telemetry.logs()[0].instrumentation_scope.name

    def test_stdlib_logger_not_exported_twice(self, telemetry: CapturedTelemetry) -> None:
        """An event for a logging.Logger is left to the logging plugin while it exports."""
        _logs.stdlib_export_started()
        try:
            export({"event": "x"}, logger=logging.getLogger("app"))
            export({"event": "y"}, logger=None)
        finally:
            _logs.stdlib_export_stopped()
        assert ["y"] == [r.body for r in records(telemetry)]

    def test_failure_never_reaches_the_app(self, telemetry: CapturedTelemetry) -> None:
        """A broken provider is reported once; the event dict still comes back."""

        class Broken:
            def get_logger(self, *args: Any, **kwargs: Any) -> Any:
                raise RuntimeError("no")

        event = {"event": "x"}
        assert event is LogRecordExporter(Broken())(None, "info", event)
