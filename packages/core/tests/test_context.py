"""Contexts built in one step: the same as the public API builds them."""

from __future__ import annotations

from opentelemetry import baggage, trace
from opentelemetry.context import Context

from spanwise.core._context import BAGGAGE_KEY, SPAN_KEY, exemplar_context


class TestKeys:
    def test_keys_are_the_apis(self) -> None:
        """The span and baggage keys are where the public API reads and writes them."""
        assert SPAN_KEY is not None
        assert BAGGAGE_KEY is not None
        span = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
        assert span is trace.get_current_span(Context({SPAN_KEY: span}))
        assert {"k": "v"} == dict(baggage.get_all(Context({BAGGAGE_KEY: {"k": "v"}})))


class TestExemplarContext:
    def test_same_as_the_public_way(self) -> None:
        """A context holding only the span, equal to what set_span_in_context builds."""
        span = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
        built = exemplar_context(span)
        assert trace.set_span_in_context(span, Context()) == built
        assert span is trace.get_current_span(built)
        assert [SPAN_KEY] == list(built)
