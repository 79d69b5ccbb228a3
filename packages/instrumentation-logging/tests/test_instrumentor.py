"""LoggingInstrumentor: otel* fields on every record, opt-in format, export, clean undo."""

from __future__ import annotations

import asyncio
import io
import logging
import threading

import pytest
from opentelemetry import trace

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.logging import (
    DEFAULT_FORMAT,
    LoggingInstrumentor,
    LogRecordHandler,
)

tracer = trace.get_tracer("tests")


def line(span: trace.Span, message: str) -> str:
    ctx = span.get_span_context()
    return f"{message}|{ctx.trace_id:032x}|{ctx.span_id:016x}|True|spanwise-tests"


class TestFields:
    def test_in_and_out_of_spans(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        app_logger: logging.Logger,
        stream: io.StringIO,
    ) -> None:
        """Records carry the innermost span's ids; outside a span "0"s and False."""
        instrumentor.instrument()
        with tracer.start_as_current_span("outer") as outer:
            app_logger.info("a")
            with tracer.start_as_current_span("inner") as inner:
                app_logger.warning("b")
        app_logger.info("c")
        expected = [line(outer, "a"), line(inner, "b"), "c|0|0|False|spanwise-tests"]
        assert expected == stream.getvalue().splitlines()

    def test_unsampled(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        app_logger: logging.Logger,
    ) -> None:
        """An unsampled span gives its ids with otelTraceSampled False."""
        instrumentor.instrument()
        telemetry.sample(False)
        with tracer.start_as_current_span("work") as span:
            record = app_logger.makeRecord("n", logging.INFO, "f", 1, "m", (), None)
        assert (f"{span.get_span_context().span_id:016x}", False) == (
            record.otelSpanID,
            record.otelTraceSampled,
        )

    def test_threads(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        app_logger: logging.Logger,
        stream: io.StringIO,
    ) -> None:
        """Concurrent threads each log their own span's ids."""
        instrumentor.instrument()
        expected: dict[str, str] = {}
        barrier = threading.Barrier(6)

        def work(n: int) -> None:
            with tracer.start_as_current_span(f"request {n}") as span:
                expected[str(n)] = line(span, str(n))
                barrier.wait(10)
                for _ in range(20):
                    app_logger.info("%d", n)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        lines = stream.getvalue().splitlines()
        assert 120 == len(lines)
        assert all(expected[text.split("|")[0]] == text for text in lines)

    def test_asyncio_tasks(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        app_logger: logging.Logger,
        stream: io.StringIO,
    ) -> None:
        """Interleaved asyncio tasks each log their own span's ids."""
        instrumentor.instrument()
        expected: dict[str, str] = {}

        async def work(n: int) -> None:
            with tracer.start_as_current_span(f"task {n}") as span:
                expected[str(n)] = line(span, str(n))
                for _ in range(5):
                    app_logger.info("%d", n)
                    await asyncio.sleep(0)

        async def main() -> None:
            await asyncio.gather(*(work(n) for n in range(5)))

        asyncio.run(main())
        lines = stream.getvalue().splitlines()
        assert 25 == len(lines)
        assert all(expected[text.split("|")[0]] == text for text in lines)

    def test_extra_wins(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        app_logger: logging.Logger,
        stream: io.StringIO,
    ) -> None:
        """A field given in extra= is kept (and passing it never raises)."""
        instrumentor.instrument()
        with tracer.start_as_current_span("work") as span:
            app_logger.info("m", extra={"otelTraceID": "mine", "otelServiceName": "other"})
        ctx = span.get_span_context()
        assert f"m|mine|{ctx.span_id:016x}|True|other\n" == stream.getvalue()

    def test_logger_subclass(
        self, telemetry: CapturedTelemetry, instrumentor: LoggingInstrumentor
    ) -> None:
        """Loggers of a subclass made before instrument() get the fields too."""

        class MyLogger(logging.Logger):
            pass

        logger = MyLogger("mine")
        instrumentor.instrument()
        record = logger.makeRecord("mine", logging.INFO, "f", 1, "m", (), None)
        assert ("0", "spanwise-tests") == (record.otelTraceID, record.otelServiceName)

    def test_tracer_provider_option(self, instrumentor: LoggingInstrumentor) -> None:
        """otelServiceName comes from the tracer_provider given."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        provider = TracerProvider(resource=Resource.create({"service.name": "billing"}))
        instrumentor.instrument(tracer_provider=provider)
        record = logging.getLogger("x").makeRecord("x", logging.INFO, "f", 1, "m", (), None)
        assert "billing" == record.otelServiceName


class TestLoggingFormat:
    def test_no_basic_config_by_default(
        self, instrumentor: LoggingInstrumentor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without set_logging_format the root logger gets no handler."""
        root = logging.getLogger()
        monkeypatch.setattr(root, "handlers", [])
        instrumentor.instrument()
        assert [] == root.handlers

    @pytest.mark.parametrize("how", ["option", "env"])
    def test_set_logging_format(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        monkeypatch: pytest.MonkeyPatch,
        how: str,
    ) -> None:
        """set_logging_format=True / OTEL_PYTHON_LOG_CORRELATION=true installs the format."""
        root = logging.getLogger()
        monkeypatch.setattr(root, "handlers", [])
        monkeypatch.setattr(root, "level", root.level)
        if how == "env":
            monkeypatch.setenv("OTEL_PYTHON_LOG_CORRELATION", "true")
            monkeypatch.setenv("OTEL_PYTHON_LOG_LEVEL", "warning")
            instrumentor.instrument()
        else:
            instrumentor.instrument(set_logging_format=True, log_level="warning")
        (handler,) = root.handlers
        assert DEFAULT_FORMAT == handler.formatter._fmt  # type: ignore[union-attr]
        assert logging.WARNING == root.level

    def test_custom_format(
        self, instrumentor: LoggingInstrumentor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """logging_format replaces the default format."""
        root = logging.getLogger()
        monkeypatch.setattr(root, "handlers", [])
        monkeypatch.setattr(root, "level", root.level)
        instrumentor.instrument(set_logging_format=True, logging_format="%(otelSpanID)s")
        assert "%(otelSpanID)s" == root.handlers[0].formatter._fmt  # type: ignore[union-attr]

    def test_existing_handlers_left_alone(
        self, instrumentor: LoggingInstrumentor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Like basicConfig, nothing happens when the root logger already has handlers."""
        root = logging.getLogger()
        mine = logging.NullHandler()
        monkeypatch.setattr(root, "handlers", [mine])
        instrumentor.instrument(set_logging_format=True)
        assert [mine] == root.handlers


class TestExport:
    def test_off_by_default(self, instrumentor: LoggingInstrumentor) -> None:
        """No export handler unless asked for."""
        instrumentor.instrument()
        assert not any(isinstance(h, LogRecordHandler) for h in logging.getLogger().handlers)

    @pytest.mark.parametrize("how", ["option", "env"])
    def test_on(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        monkeypatch: pytest.MonkeyPatch,
        how: str,
    ) -> None:
        """export_logs=True / SPANWISE_LOGS_EXPORT=true exports records; undone after."""
        if how == "env":
            monkeypatch.setenv("SPANWISE_LOGS_EXPORT", "true")
            instrumentor.instrument()
        else:
            instrumentor.instrument(export_logs=True)
        logger = logging.getLogger("exported")
        logger.setLevel(logging.INFO)
        with tracer.start_as_current_span("work") as span:
            logger.info("hello %s", "you")
        (record,) = [r.log_record for r in telemetry.logs()]
        assert ("hello you", span.get_span_context().span_id) == (record.body, record.span_id)
        instrumentor.uninstrument()
        logger.info("after")
        assert 1 == len(telemetry.logs())
        assert not any(isinstance(h, LogRecordHandler) for h in logging.getLogger().handlers)


class TestUninstrument:
    def test_restores_make_record(self, instrumentor: LoggingInstrumentor) -> None:
        """Logger.makeRecord is the original function again."""
        original = logging.Logger.__dict__["makeRecord"]
        instrumentor.instrument()
        assert original is not logging.Logger.__dict__["makeRecord"]
        instrumentor.uninstrument()
        assert original is logging.Logger.__dict__["makeRecord"]

    def test_no_fields_after(
        self, telemetry: CapturedTelemetry, instrumentor: LoggingInstrumentor
    ) -> None:
        """Records made after uninstrument() have no otel* fields."""
        instrumentor.instrument()
        instrumentor.uninstrument()
        record = logging.getLogger("x").makeRecord("x", logging.INFO, "f", 1, "m", (), None)
        assert not hasattr(record, "otelTraceID")

    @pytest.mark.parametrize(
        ("fmt", "style"),
        [
            ("%(message)s %(otelTraceID)s %(otelSpanID)s %(otelTraceSampled)s", "%"),
            ("{message} {otelTraceID} {otelServiceName}", "{"),
        ],
    )
    def test_existing_formats_still_format(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: LoggingInstrumentor,
        fmt: str,
        style: str,
    ) -> None:
        """A handler whose format mentions the fields still formats after uninstrument()."""
        buffer = io.StringIO()
        handler = logging.StreamHandler(buffer)
        handler.setFormatter(logging.Formatter(fmt, style=style))  # type: ignore[arg-type]
        logger = logging.getLogger("formats")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            instrumentor.instrument()
            instrumentor.uninstrument()
            logger.warning("after")
        finally:
            logger.removeHandler(handler)
        assert buffer.getvalue().startswith("after 0")
