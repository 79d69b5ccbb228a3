"""StructlogInstrumentor: ids in configured chains, before and after configure(), undone."""

from __future__ import annotations

from typing import Any

import pytest
import structlog
from opentelemetry import trace

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.structlog import (
    LogRecordExporter,
    StructlogInstrumentor,
    add_trace_context,
)

from .conftest import Sink

tracer = trace.get_tracer("tests")


def hexids(span: trace.Span) -> tuple[str, str]:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class TestInstrument:
    def test_inserted_before_renderer(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor, json_config: Any
    ) -> None:
        """instrument() puts add_trace_context just before the JSON renderer."""
        instrumentor.instrument()
        chain = structlog.get_config()["processors"]
        assert add_trace_context is chain[-2]
        assert 4 == len(chain)

    def test_rendered_json_has_ids(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: StructlogInstrumentor,
        json_config: Any,
        sink: Sink,
    ) -> None:
        """Lines written in a span carry its ids; lines outside none."""
        instrumentor.instrument()
        log = structlog.get_logger()
        with tracer.start_as_current_span("request") as span:
            log.info("in")
        log.info("out")
        trace_id, span_id = hexids(span)
        expected = [
            {"event": "in", "level": "info", "trace_id": trace_id, "span_id": span_id,
             "trace_flags": format(span.get_span_context().trace_flags, "02x")},
            {"event": "out", "level": "info"},
        ]  # fmt: skip
        assert expected == sink.events()

    def test_loggers_cached_before_instrument(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: StructlogInstrumentor,
        json_config: Any,
        sink: Sink,
    ) -> None:
        """A logger bound and cached before instrument() gets the ids too."""
        cached = structlog.get_logger()
        cached.info("warm")  # assembles and caches the bound logger
        bound = structlog.get_logger().bind(user="u1")
        instrumentor.instrument()
        with tracer.start_as_current_span("request") as span:
            cached.info("cached")
            bound.info("bound")
        trace_id, _ = hexids(span)
        assert [None, trace_id, trace_id] == [e.get("trace_id") for e in sink.events()]

    def test_console_output_has_ids(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor, sink: Sink
    ) -> None:
        """With the ConsoleRenderer the line shows trace_id=… and span_id=…."""
        structlog.configure(
            processors=[structlog.dev.ConsoleRenderer(colors=False)],
            logger_factory=structlog.PrintLoggerFactory(sink),
        )
        instrumentor.instrument()
        with tracer.start_as_current_span("request") as span:
            structlog.get_logger().info("hello")
        structlog.get_logger().info("bye")
        trace_id, span_id = hexids(span)
        first, second = sink.lines()
        assert f"span_id={span_id}" in first
        assert f"trace_id={trace_id}" in first
        assert "trace_id" not in second

    def test_default_configuration(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor
    ) -> None:
        """structlog's own default chain gets it before its ConsoleRenderer."""
        instrumentor.instrument()
        chain = structlog.get_config()["processors"]
        assert add_trace_context is chain[-2]
        assert isinstance(chain[-1], structlog.dev.ConsoleRenderer)

    def test_by_hand_processor_not_doubled(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor
    ) -> None:
        """A chain that already has add_trace_context is left as it is, and kept after."""
        renderer = structlog.processors.JSONRenderer()
        structlog.configure(processors=[add_trace_context, renderer])
        instrumentor.instrument()
        assert [add_trace_context, renderer] == structlog.get_config()["processors"]
        instrumentor.uninstrument()
        assert [add_trace_context, renderer] == structlog.get_config()["processors"]

    def test_tuple_chain(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor
    ) -> None:
        """A tuple chain is replaced by a list with ours; uninstrument() puts the tuple back."""
        chain = (structlog.processors.JSONRenderer(),)
        structlog.configure(processors=chain)
        instrumentor.instrument()
        assert [add_trace_context, chain[0]] == structlog.get_config()["processors"]
        instrumentor.uninstrument()
        assert chain is structlog.get_config()["processors"]


class TestLaterConfiguration:
    def test_configure_after_instrument(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor, sink: Sink
    ) -> None:
        """A chain configured after instrument() gets it; the list passed in is not changed."""
        instrumentor.instrument()
        chain: list[Any] = [structlog.processors.JSONRenderer()]
        structlog.configure(processors=chain, logger_factory=structlog.PrintLoggerFactory(sink))
        assert [add_trace_context, chain[0]] == structlog.get_config()["processors"]
        assert 1 == len(chain)
        with tracer.start_as_current_span("request") as span:
            structlog.get_logger().info("hi")
        assert hexids(span)[0] == sink.events()[0]["trace_id"]

    def test_configure_once(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor
    ) -> None:
        """configure_once() (which calls structlog._config.configure) is covered."""
        instrumentor.instrument()
        renderer = structlog.processors.KeyValueRenderer()
        structlog.configure_once(processors=[renderer])
        assert [add_trace_context, renderer] == structlog.get_config()["processors"]

    def test_configure_without_processors(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor, json_config: Any
    ) -> None:
        """configure() that leaves the chain alone does not add a second copy."""
        instrumentor.instrument()
        structlog.configure(cache_logger_on_first_use=False)
        chain = structlog.get_config()["processors"]
        assert 1 == sum(p is add_trace_context for p in chain)

    def test_reset_defaults(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor
    ) -> None:
        """After reset_defaults() the default chain has it again."""
        instrumentor.instrument()
        structlog.reset_defaults()
        assert add_trace_context is structlog.get_config()["processors"][-2]

    def test_capture_logs_untouched(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor
    ) -> None:
        """capture_logs() captures exactly what the application logged."""
        instrumentor.instrument()
        with tracer.start_as_current_span("request"):
            with structlog.testing.capture_logs() as captured:
                structlog.get_logger().info("hi", a=1)
        assert [{"event": "hi", "a": 1, "log_level": "info"}] == captured
        assert add_trace_context in structlog.get_config()["processors"]


class TestUninstrument:
    def test_removed_from_every_chain(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: StructlogInstrumentor,
        json_config: Any,
        sink: Sink,
    ) -> None:
        """After uninstrument() no chain has it and every logger still logs, without ids."""
        cached = structlog.get_logger()
        cached.info("warm")
        instrumentor.instrument()
        structlog.configure(
            processors=[structlog.processors.JSONRenderer()],
            logger_factory=structlog.PrintLoggerFactory(sink),
        )
        later = structlog.get_logger().bind(x=1)
        instrumentor.uninstrument()
        with tracer.start_as_current_span("request"):
            cached.info("a")
            later.info("b")
            structlog.get_logger().info("c")
        events = sink.events()
        assert ["warm", "a", "b", "c"] == [e["event"] for e in events]
        assert not any("trace_id" in e for e in events)
        assert add_trace_context not in structlog.get_config()["processors"]
        assert add_trace_context not in json_config  # the list changed in place is clean again

    def test_restores_configure(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor
    ) -> None:
        """configure and reset_defaults are the originals again."""
        import structlog._config as config

        originals = (config.__dict__["configure"], config.__dict__["reset_defaults"])
        instrumentor.instrument()
        assert originals[0] is not config.__dict__["configure"]
        instrumentor.uninstrument()
        assert originals == (config.__dict__["configure"], config.__dict__["reset_defaults"])
        assert config.__dict__["configure"] is structlog.__dict__["configure"]

    def test_configure_after_uninstrument(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor
    ) -> None:
        """A chain configured after uninstrument() is the application's, unchanged."""
        instrumentor.instrument()
        instrumentor.uninstrument()
        chain = [structlog.processors.JSONRenderer()]
        structlog.configure(processors=chain)
        assert chain is structlog.get_config()["processors"]


class TestExportOption:
    def test_off_by_default(
        self, telemetry: CapturedTelemetry, instrumentor: StructlogInstrumentor, json_config: Any
    ) -> None:
        """Without the option no record is exported and no exporter is in the chain."""
        instrumentor.instrument()
        structlog.get_logger().info("hi")
        assert [] == telemetry.logs()
        chain = structlog.get_config()["processors"]
        assert not any(isinstance(p, LogRecordExporter) for p in chain)

    @pytest.mark.parametrize("how", ["option", "env"])
    def test_on(
        self,
        telemetry: CapturedTelemetry,
        instrumentor: StructlogInstrumentor,
        json_config: Any,
        sink: Sink,
        monkeypatch: pytest.MonkeyPatch,
        how: str,
    ) -> None:
        """export_logs=True or SPANWISE_LOGS_EXPORT=true exports each event, with its span."""
        if how == "env":
            monkeypatch.setenv("SPANWISE_LOGS_EXPORT", "true")
            instrumentor.instrument()
        else:
            instrumentor.instrument(export_logs=True)
        with tracer.start_as_current_span("request") as span:
            structlog.get_logger().warning("careful", user="u1")
        (record,) = [r.log_record for r in telemetry.logs()]
        assert ("careful", "WARN") == (record.body, record.severity_text)
        assert span.get_span_context().span_id == record.span_id
        assert {"user": "u1"} == dict(record.attributes)
        assert 1 == len(sink.lines())  # the line is still rendered
        instrumentor.uninstrument()
        structlog.get_logger().info("after")
        assert 1 == len(telemetry.logs())
