"""The test kit: span tree rendering and assertions, JSON-lines export across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from spanwise.core.testing import CapturedTelemetry, assert_span_tree, read_spans, render_tree


def build_checkout(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("checkout_handler", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.route", "/api/checkout")
        with tracer.start_as_current_span("validate_cart"):
            pass
        with tracer.start_as_current_span("create_order"):
            with tracer.start_as_current_span("insert_order", kind=SpanKind.CLIENT):
                pass
            with tracer.start_as_current_span("check_fraud_score") as fraud:
                fraud.set_status(StatusCode.ERROR, "timeout")


class TestRenderTree:
    def test_renders_children_under_parents(self, telemetry: CapturedTelemetry) -> None:
        """Children indented under parents in start order, kinds, errors and attributes."""
        build_checkout(trace.get_tracer("t"))
        expected = textwrap.dedent(
            """\
            checkout_handler [SERVER] http.route='/api/checkout'
            ├── validate_cart [INTERNAL]
            └── create_order [INTERNAL]
                ├── insert_order [CLIENT]
                └── check_fraud_score [INTERNAL] ERROR"""
        )
        assert expected == render_tree(telemetry.spans(), ["http.route"])

    def test_assert_tree_passes_and_fails(self, telemetry: CapturedTelemetry) -> None:
        """assert_tree accepts an indented block and reports a diff when different."""
        build_checkout(trace.get_tracer("t"))
        telemetry.assert_tree(
            """
            checkout_handler [SERVER]
            ├── validate_cart [INTERNAL]
            └── create_order [INTERNAL]
                ├── insert_order [CLIENT]
                └── check_fraud_score [INTERNAL] ERROR
            """
        )
        with pytest.raises(AssertionError, match="span tree differs"):
            assert_span_tree(telemetry.spans(), "checkout_handler [SERVER]")

    def test_separate_traces_are_separate_roots(self, telemetry: CapturedTelemetry) -> None:
        """Two traces render as two trees."""
        tracer = trace.get_tracer("t")
        with tracer.start_as_current_span("a"):
            pass
        with tracer.start_as_current_span("b"):
            pass
        assert telemetry.tree() == "a [INTERNAL]\nb [INTERNAL]"

    def test_reset_between_tests(self, telemetry: CapturedTelemetry) -> None:
        """Each test starts with nothing captured."""
        assert (telemetry.spans(), telemetry.metrics()) == ([], {})


class TestJsonLines:
    def test_spans_from_another_process(self, span_file: Path) -> None:
        """A child process exporting to the span file is read back as a tree."""
        script = textwrap.dedent(
            f"""
            from opentelemetry import trace
            from spanwise.core.testing import install_jsonl_export
            install_jsonl_export({str(span_file)!r}, service_name="child")
            tracer = trace.get_tracer("child")
            with tracer.start_as_current_span("parent", kind=trace.SpanKind.SERVER) as s:
                s.set_attribute("n", 1)
                with tracer.start_as_current_span("child"):
                    pass
            """
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        spans = read_spans(span_file)
        assert render_tree(spans, ["n"]) == "parent [SERVER] n=1\n└── child [INTERNAL]"
        assert spans[0].resource["service.name"] == "child"

    def test_missing_file_reads_as_empty(self, tmp_path: Path) -> None:
        """No file yet: no spans."""
        assert read_spans(tmp_path / "none.jsonl") == []
