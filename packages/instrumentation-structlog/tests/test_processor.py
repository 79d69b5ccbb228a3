"""add_trace_context: the ids of the current span, in nested spans, threads and tasks."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, TraceFlags

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.structlog import add_trace_context

tracer = trace.get_tracer("tests")


def ids(span: trace.Span) -> dict[str, str]:
    ctx = span.get_span_context()
    return {
        "trace_id": format(ctx.trace_id, "032x"),
        "span_id": format(ctx.span_id, "016x"),
        "trace_flags": format(ctx.trace_flags, "02x"),
    }


def configure_by_hand(sink: Any) -> None:
    structlog.configure(
        processors=[add_trace_context, structlog.processors.JSONRenderer(sort_keys=True)],
        logger_factory=structlog.PrintLoggerFactory(sink),
    )


class TestAddTraceContext:
    def test_adds_ids_of_current_span(self, telemetry: CapturedTelemetry) -> None:
        """Inside a span the event gets its trace id, span id and flags as hex strings."""
        with tracer.start_as_current_span("work") as span:
            actual = add_trace_context(None, "info", {"event": "hi"})
        assert {"event": "hi", **ids(span)} == actual

    def test_formats_as_traceparent_does(self, telemetry: CapturedTelemetry) -> None:
        """32 and 16 lower-case hex digits, zero-padded, and two for the flags."""
        ctx = SpanContext(0xAB, 0xCD, is_remote=True, trace_flags=TraceFlags(1))
        with trace.use_span(NonRecordingSpan(ctx)):
            actual = add_trace_context(None, "info", {})
        expected = {"trace_id": "0" * 30 + "ab", "span_id": "0" * 14 + "cd", "trace_flags": "01"}
        assert expected == actual

    def test_nothing_outside_a_span(self, telemetry: CapturedTelemetry) -> None:
        """No span: the event dict is returned as it came."""
        assert {"event": "hi"} == add_trace_context(None, "info", {"event": "hi"})

    def test_nothing_for_an_invalid_span(self, telemetry: CapturedTelemetry) -> None:
        """An invalid span in the context adds nothing."""
        with trace.use_span(INVALID_SPAN):
            assert {"event": "hi"} == add_trace_context(None, "info", {"event": "hi"})

    def test_unsampled_span_has_sampled_bit_clear(self, telemetry: CapturedTelemetry) -> None:
        """An unsampled span still has ids (so logs correlate), its flags' sampled bit clear."""
        telemetry.sample(False)
        with tracer.start_as_current_span("work") as span:
            actual = add_trace_context(None, "info", {})
        assert 0 == int(actual["trace_flags"], 16) & 1
        assert ids(span) == actual

    def test_bound_trace_id_is_kept(self, telemetry: CapturedTelemetry) -> None:
        """An event that already has a trace_id keeps it and gets nothing else."""
        with tracer.start_as_current_span("work"):
            actual = add_trace_context(None, "info", {"trace_id": "mine"})
        assert {"trace_id": "mine"} == actual

    def test_nested_spans(self, telemetry: CapturedTelemetry, sink: Any) -> None:
        """Each line carries the innermost span open when it was written."""
        configure_by_hand(sink)
        log = structlog.get_logger()
        with tracer.start_as_current_span("outer") as outer:
            log.info("a")
            with tracer.start_as_current_span("inner") as inner:
                log.info("b")
            log.info("c")
        log.info("d")
        expected = [
            {"event": "a", **ids(outer)},
            {"event": "b", **ids(inner)},
            {"event": "c", **ids(outer)},
            {"event": "d"},
        ]
        assert expected == sink.events()
        assert ids(outer)["trace_id"] == ids(inner)["trace_id"]

    def test_threads_each_get_their_own_ids(self, telemetry: CapturedTelemetry, sink: Any) -> None:
        """Lines written by concurrent threads carry their own thread's span."""
        configure_by_hand(sink)
        log = structlog.get_logger()
        spans: dict[int, dict[str, str]] = {}
        barrier = threading.Barrier(8)

        def work(n: int) -> None:
            with tracer.start_as_current_span(f"request {n}") as span:
                spans[n] = ids(span)
                barrier.wait(10)
                for _ in range(20):
                    log.info("line", n=n)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        events = sink.events()
        assert 160 == len(events)
        assert all({**spans[e["n"]], "event": "line", "n": e["n"]} == e for e in events)
        assert 8 == len({s["trace_id"] for s in spans.values()})

    def test_asyncio_tasks_each_get_their_own_ids(
        self, telemetry: CapturedTelemetry, sink: Any
    ) -> None:
        """Interleaved asyncio tasks (sync and ``ainfo`` calls) carry their own task's span."""
        configure_by_hand(sink)
        log = structlog.get_logger()
        spans: dict[int, dict[str, str]] = {}

        async def work(n: int) -> None:
            with tracer.start_as_current_span(f"task {n}") as span:
                spans[n] = ids(span)
                for _ in range(5):
                    log.info("sync", n=n)
                    await asyncio.sleep(0)
                    await log.ainfo("async", n=n)

        async def main() -> None:
            await asyncio.gather(*(work(n) for n in range(6)))
            await log.ainfo("outside")

        asyncio.run(main())
        events = sink.events()
        assert 61 == len(events)
        assert {"event": "outside"} == events[-1]
        assert all({**spans[e["n"]], "event": e["event"], "n": e["n"]} == e for e in events[:-1])
