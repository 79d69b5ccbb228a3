"""LogRecordHandler: standard-library records exported as OpenTelemetry log records."""

from __future__ import annotations

import logging
import logging.handlers
import queue
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber

from spanwise.core import _logs
from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.logging import LoggingInstrumentor, LogRecordHandler
from spanwise.instrumentation.logging._handler import _guard

tracer = trace.get_tracer("tests")


@pytest.fixture
def exported(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A logger whose records go to a LogRecordHandler only."""
    handler = LogRecordHandler()
    logger = logging.getLogger(f"exported.{request.node.name}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    logger.removeHandler(handler)
    handler.close()


def records(telemetry: CapturedTelemetry) -> list[Any]:
    return [r.log_record for r in telemetry.logs()]


class TestLogRecordHandler:
    def test_body_severity_scope(
        self, telemetry: CapturedTelemetry, exported: logging.Logger
    ) -> None:
        """Body is the message, severity the level, scope the logger's name."""
        exported.warning("disk %d%% full", 91)
        (data,) = telemetry.logs()
        record = data.log_record
        assert ("disk 91% full", SeverityNumber.WARN, "WARN") == (
            record.body,
            record.severity_number,
            record.severity_text,
        )
        assert exported.name == data.instrumentation_scope.name

    def test_attributes(self, telemetry: CapturedTelemetry, exported: logging.Logger) -> None:
        """extra= fields become attributes, with code.* and thread.*; nothing else."""
        exported.info("m", extra={"user": "u1", "payload": {"a": 1}})
        attributes = dict(records(telemetry)[0].attributes)
        assert ("u1", "{'a': 1}") == (attributes.pop("user"), attributes.pop("payload"))
        assert __file__ == attributes.pop("code.file.path")
        assert "test_attributes" == attributes.pop("code.function.name")
        assert isinstance(attributes.pop("code.line.number"), int)
        assert {"thread.id", "thread.name"} == set(attributes)

    def test_trace_context(self, telemetry: CapturedTelemetry, exported: logging.Logger) -> None:
        """A record logged in a span carries it; outside one, none."""
        with tracer.start_as_current_span("work") as span:
            exported.info("in")
        exported.info("out")
        inside, outside = records(telemetry)
        assert span.get_span_context().trace_id == inside.trace_id
        assert 0 == outside.trace_id

    def test_context_of_record_handed_to_another_thread(
        self, telemetry: CapturedTelemetry, instrumentor: LoggingInstrumentor
    ) -> None:
        """Through QueueHandler/QueueListener the record keeps the span it was made in."""
        instrumentor.instrument()
        records_queue: queue.Queue[logging.LogRecord] = queue.Queue()
        handler = LogRecordHandler()
        listener = logging.handlers.QueueListener(records_queue, handler)
        logger = logging.getLogger("queued")
        logger.addHandler(logging.handlers.QueueHandler(records_queue))
        logger.propagate = False
        listener.start()
        try:
            with tracer.start_as_current_span("work") as span:
                logger.warning("in")
            logger.warning("out")
        finally:
            listener.stop()
            logger.handlers.clear()
            handler.close()
        inside, outside = records(telemetry)
        ctx = span.get_span_context()
        assert (ctx.trace_id, ctx.span_id) == (inside.trace_id, inside.span_id)
        assert 0 == outside.span_id

    def test_exception(self, telemetry: CapturedTelemetry, exported: logging.Logger) -> None:
        """exc_info becomes exception.* attributes."""
        try:
            raise KeyError("k")
        except KeyError:
            exported.exception("failed")
        attributes = dict(records(telemetry)[0].attributes)
        assert "KeyError" == attributes["exception.type"]
        assert "Traceback" in attributes["exception.stacktrace"]

    def test_formatter_gives_body(
        self, telemetry: CapturedTelemetry, exported: logging.Logger
    ) -> None:
        """With a formatter set the body is the formatted line."""
        exported.handlers[0].setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        exported.error("x")
        assert "ERROR x" == records(telemetry)[0].body

    def test_non_string_message(
        self, telemetry: CapturedTelemetry, exported: logging.Logger
    ) -> None:
        """A non-string message without args is exported as a bounded value."""
        exported.info({"k": 1})
        assert "{'k': 1}" == records(telemetry)[0].body

    def test_opentelemetry_loggers_skipped(self, telemetry: CapturedTelemetry) -> None:
        """Records of the opentelemetry loggers are not exported (no loops)."""
        handler = LogRecordHandler()
        record = logging.LogRecord("opentelemetry.sdk", logging.ERROR, "f", 1, "m", (), None)
        handler.handle(record)
        handler.close()
        assert [] == telemetry.logs()

    def test_logging_while_exporting_is_not_exported(self, telemetry: CapturedTelemetry) -> None:
        """A record logged from inside an export is skipped instead of recursing."""
        handler = LogRecordHandler()
        inner = logging.LogRecord("inner", logging.ERROR, "f", 1, "inner", (), None)

        class Provider:
            def get_logger(self, *args: Any, **kwargs: Any) -> Any:
                return self

            def emit(self, record: Any) -> None:
                self.bodies.append(record.body)
                handler.handle(inner)

            bodies: list[Any] = []

        handler._emitter.logger_provider = Provider()
        handler.handle(logging.LogRecord("outer", logging.ERROR, "f", 1, "outer", (), None))
        handler.close()
        assert ["outer"] == Provider.bodies

    def test_failure_never_reaches_the_app(self, telemetry: CapturedTelemetry) -> None:
        """A message that cannot be formatted is reported once; the next record exports."""
        before = _guard.failures.get("export", 0)
        handler = LogRecordHandler()
        bad = logging.LogRecord("n", logging.INFO, "f", 1, "%d", ("not a number",), None)
        handler.handle(bad)
        handler.handle(logging.LogRecord("n", logging.INFO, "f", 1, "fine", (), None))
        handler.close()
        assert ["fine"] == [r.body for r in records(telemetry)]
        assert before + 1 == _guard.failures["export"]

    def test_counts_as_stdlib_export_while_open(self) -> None:
        """While open the handler tells structlog not to export stdlib events again."""
        handler = LogRecordHandler()
        assert _logs.stdlib_export_active()
        handler.close()
        handler.close()
        assert not _logs.stdlib_export_active()
