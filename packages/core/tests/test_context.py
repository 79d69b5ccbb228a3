"""Contexts built in one step: the same as the public API builds them."""

from __future__ import annotations

import pytest
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


class TestCurrentContext:
    def test_attach_current_and_reset_are_the_apis(self) -> None:
        """What attach() makes current, the public API sees, and reset() gives it back."""
        from opentelemetry import context as api

        from spanwise.core.context import attach, current, reset

        before = api.get_current()
        ctx = Context({"k": "v"})
        token = attach(ctx)
        try:
            assert ctx is api.get_current()
            assert ctx is current()
        finally:
            reset(token)
        assert before is api.get_current()
        # Interchangeable with the API's own: tokens from either undo the other.
        token = api.attach(ctx)
        reset(token)
        assert before is current()
        api.detach(attach(ctx))
        assert before is current()

    def test_reset_of_a_used_token_raises_for_the_caller_to_catch(self) -> None:
        from spanwise.core.context import attach, reset

        token = attach(Context())
        reset(token)
        with pytest.raises(RuntimeError):
            reset(token)

    def test_with_span_is_set_span_in_context(self) -> None:
        """The current context (baggage and all) plus the span, equal to the public way."""
        from opentelemetry import context as api

        from spanwise.core.context import with_span

        span = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
        token = api.attach(baggage.set_baggage("user", "42"))
        try:
            built = with_span(span)
            assert trace.set_span_in_context(span) == built
            assert span is trace.get_current_span(built)
            assert "42" == baggage.get_baggage("user", built)
            assert type(built) is Context
        finally:
            api.detach(token)

    def test_another_runtime_context_gets_the_public_functions(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With a runtime other than the API's contextvars one, nothing is read behind it."""
        from opentelemetry import context as api
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

        from spanwise.core import _context

        class Other(ContextVarsRuntimeContext):
            pass

        from spanwise.core.context import runtime_variable

        found = runtime_variable()
        assert found is not None
        assert found[0] is api._RUNTIME_CONTEXT
        assert found[1] is _context._runtime_var()
        monkeypatch.setattr(api, "_RUNTIME_CONTEXT", Other())
        assert (None, None) == (runtime_variable(), _context._runtime_var())


class TestSuppression:
    def test_not_suppressed_by_default(self) -> None:
        """Outside any suppression nothing is suppressed, HTTP or not."""
        from spanwise.core.context import suppressed

        assert (False, False) == (suppressed(), suppressed(http=True))

    def test_suppress_sets_what_suppressed_reads(self) -> None:
        """suppress() silences every client; suppress(http=True) only HTTP clients; both
        end with the block."""
        from spanwise.core.context import suppress, suppressed

        with suppress():
            everything = (suppressed(), suppressed(http=True))
        with suppress(http=True):
            http_only = (suppressed(), suppressed(http=True))
        assert ((True, True), (False, True), False) == (everything, http_only, suppressed())

    def test_the_apis_own_suppression_is_honoured(self) -> None:
        """The keys are the API's: what the SDK's processors and contrib's helpers set."""
        utils = pytest.importorskip("opentelemetry.instrumentation.utils")
        from spanwise.core.context import suppressed

        with utils.suppress_instrumentation():
            general = suppressed()
        with utils.suppress_http_instrumentation():
            http = (suppressed(), suppressed(http=True))
        assert (True, (False, True)) == (general, http)
