"""ConsoleSpanTreeExporter: one tree per finished trace, slowest path and errors marked."""

from __future__ import annotations

import io
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import StatusCode

from spanwise.core.export import ConsoleSpanTreeExporter, format_duration


def provider(out: io.StringIO, **kwargs: object) -> TracerProvider:
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(ConsoleSpanTreeExporter(out, **kwargs)))  # type: ignore[arg-type]
    return tp


def strip_durations(text: str) -> str:
    import re

    return re.sub(r" \d+(\.\d+)?(µs|ms|s)\b", " D", text)


class TestConsoleSpanTreeExporter:
    def test_prints_tree_when_root_ends(self) -> None:
        """The incident tree: children under parents, slowest marked, error with description."""
        out = io.StringIO()
        tracer = provider(out).get_tracer("t")
        with tracer.start_as_current_span("checkout_handler"):
            with tracer.start_as_current_span("validate_cart"):
                pass
            with tracer.start_as_current_span("create_order"):
                with tracer.start_as_current_span("check_fraud_score") as span:
                    time.sleep(0.01)
                    span.set_status(StatusCode.ERROR, "timeout")
            assert "" == out.getvalue()
        assert (
            "checkout_handler D\n"
            "├── validate_cart D\n"
            "└── create_order D  ← slowest\n"
            "    └── check_fraud_score D  ERROR timeout\n"
        ) == strip_durations(out.getvalue())

    def test_no_colour_when_not_a_terminal(self) -> None:
        """A StringIO (like a log file) gets no escape codes."""
        out = io.StringIO()
        tracer = provider(out).get_tracer("t")
        with tracer.start_as_current_span("a") as span:
            span.set_status(StatusCode.ERROR)
        assert "\033" not in out.getvalue()

    def test_colour_when_asked(self) -> None:
        """Colour can be forced, for terminals."""
        out = io.StringIO()
        tracer = provider(out, color=True).get_tracer("t")
        with tracer.start_as_current_span("a") as span:
            span.set_status(StatusCode.ERROR)
        assert "\033[31m" in out.getvalue()

    def test_pending_traces_are_bounded(self) -> None:
        """Beyond max_traces open traces, the oldest is printed as it stands."""
        out = io.StringIO()
        tracer = provider(out, max_traces=2).get_tracer("t")
        roots = [tracer.start_span(f"root{i}") for i in range(3)]
        from opentelemetry import trace

        for i, root in enumerate(roots):
            with trace.use_span(root, end_on_exit=False):
                tracer.start_span(f"child{i}").end()
        assert "child0" in out.getvalue()
        assert "child2" not in out.getvalue()

    def test_force_flush_prints_the_rest(self) -> None:
        """Traces whose root has not ended are printed on flush."""
        out = io.StringIO()
        exporter = ConsoleSpanTreeExporter(out)
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = tp.get_tracer("t")
        root = tracer.start_span("root")
        from opentelemetry import trace

        with trace.use_span(root, end_on_exit=False):
            tracer.start_span("orphan").end()
        exporter.force_flush()
        assert "orphan" in out.getvalue()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.00042, "420µs"), (0.012, "12ms"), (0.1234, "123ms"), (4.07, "4.07s"), (4.1, "4.1s")],
)
def test_format_duration(seconds: float, text: str) -> None:
    """Durations read like the seed's walkthrough."""
    assert text == format_duration(seconds)
