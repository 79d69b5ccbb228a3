"""Carriers: tolerant getters and setters for every transport, fed hostile input."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.propagate import get_global_textmap

from spanwise.core.propagation import (
    MAX_HEADER_VALUE,
    asgi_getter,
    dict_getter,
    extract,
    inject,
    kafka_getter,
    kafka_setter,
    wsgi_getter,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736

header_values = st.one_of(
    st.none(),
    st.binary(max_size=64),
    st.text(max_size=64),
    st.integers(),
    st.just(b"\xff\xfe\x00"),
    st.just(b"x" * (MAX_HEADER_VALUE + 1)),
)
header_names = st.one_of(
    st.text(max_size=16),
    st.binary(max_size=16),
    st.sampled_from(["traceparent", "tracestate", "baggage"]),
)


def trace_id_of(ctx: Any) -> int:
    return trace.get_current_span(ctx).get_span_context().trace_id


class TestKafka:
    @given(st.lists(st.tuples(header_names, header_values), max_size=8))
    @settings(max_examples=300, deadline=None)
    def test_list_headers_never_raise_or_change(self, headers: list[Any]) -> None:
        """Any header list: extract works and leaves the list exactly as it was."""
        before = copy.deepcopy(headers)
        extract(headers, kafka_getter)
        kafka_getter.keys(headers)
        assert before == headers

    @given(st.dictionaries(st.text(max_size=16), header_values, max_size=8))
    @settings(max_examples=200, deadline=None)
    def test_dict_headers_never_raise(self, headers: dict[str, Any]) -> None:
        """Any header dict: extract works."""
        extract(headers, kafka_getter)

    def test_reads_bytes_and_str(self) -> None:
        """A traceparent in bytes or str is understood."""
        for value in (TRACEPARENT.encode(), TRACEPARENT):
            assert trace_id_of(extract([("traceparent", value)], kafka_getter)) == TRACE_ID

    def test_non_utf8_and_oversized_are_ignored(self) -> None:
        """Undecodable or oversized values are skipped; a fresh trace follows."""
        assert None is kafka_getter.get([("traceparent", b"\xff\xfe")], "traceparent")
        big = b"0" * (MAX_HEADER_VALUE + 1)
        assert None is kafka_getter.get([("baggage", big)], "baggage")

    def test_duplicates_give_all_values(self) -> None:
        """Repeated keys give every value, in order."""
        headers = [("traceparent", b"a"), ("x", b"y"), ("traceparent", b"b")]
        assert kafka_getter.get(headers, "traceparent") == ["a", "b"]

    def test_setter_list_and_dict(self) -> None:
        """Injection appends to lists and sets dict keys, as UTF-8 bytes."""
        listed: list[tuple[str, bytes]] = [("app", b"1")]
        kafka_setter.set(listed, "traceparent", TRACEPARENT)
        mapped: dict[str, bytes] = {"app": b"1"}
        kafka_setter.set(mapped, "traceparent", TRACEPARENT)
        assert [("app", b"1"), ("traceparent", TRACEPARENT.encode())] == listed
        assert {"app": b"1", "traceparent": TRACEPARENT.encode()} == mapped


class TestHttpCarriers:
    @given(
        st.dictionaries(
            st.text(max_size=20),
            st.one_of(st.text(max_size=40), st.binary(max_size=10), st.none()),
            max_size=10,
        )
    )
    @settings(max_examples=200, deadline=None)
    def test_wsgi_environ_never_raises(self, environ: dict[str, Any]) -> None:
        """Any environ: extract works."""
        extract(environ, wsgi_getter)

    def test_wsgi_reads_http_header(self) -> None:
        """HTTP_TRACEPARENT is the traceparent header."""
        assert trace_id_of(extract({"HTTP_TRACEPARENT": TRACEPARENT}, wsgi_getter)) == TRACE_ID

    @given(st.lists(st.tuples(st.binary(max_size=16), st.binary(max_size=64)), max_size=10))
    @settings(max_examples=200, deadline=None)
    def test_asgi_headers_never_raise(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Any ASGI header list: extract works."""
        extract({"headers": headers}, asgi_getter)

    def test_asgi_reads_case_insensitively(self) -> None:
        """Header names match regardless of case."""
        scope = {"headers": [(b"TraceParent", TRACEPARENT.encode())]}
        assert trace_id_of(extract(scope, asgi_getter)) == TRACE_ID

    def test_dict_getter_case_insensitive_and_lists(self) -> None:
        """Dict carriers: exact key, then any case; list values give several."""
        assert dict_getter.get({"TraceParent": TRACEPARENT}, "traceparent") == [TRACEPARENT]
        assert dict_getter.get({"k": ["a", "b"]}, "k") == ["a", "b"]

    def test_lone_surrogate_baggage_keeps_the_traceparent(self) -> None:
        """A baggage value no codec can encode is skipped; the valid traceparent still counts."""
        headers = {"traceparent": TRACEPARENT, "baggage": "k=\udcff"}
        assert TRACE_ID == trace_id_of(extract(headers, dict_getter))

    def test_malformed_traceparent_starts_fresh_trace(self) -> None:
        """A malformed traceparent gives no parent."""
        for bad in [
            "garbage",
            "00-" + "0" * 32 + "-" + "0" * 16 + "-01",
            "ff-" + "a" * 32 + "-" + "b" * 16 + "-01",
        ]:
            assert trace_id_of(extract({"HTTP_TRACEPARENT": bad}, wsgi_getter)) == 0


class TestInjectExtract:
    def test_round_trip(self, telemetry: Any) -> None:
        """What inject writes, extract reads back as the same trace."""
        tracer = trace.get_tracer("t")
        with tracer.start_as_current_span("producer") as span:
            headers: list[tuple[str, bytes]] = []
            inject(headers, kafka_setter)
        assert span.get_span_context().trace_id == trace_id_of(extract(headers, kafka_getter))

    def test_broken_propagator_never_raises(self) -> None:
        """A propagator that raises is contained: empty context, nothing thrown."""
        from opentelemetry import propagate

        class Broken:
            fields: set[str] = set()

            def extract(self, *a: Any, **k: Any) -> Any:
                raise RuntimeError("broken")

            def inject(self, *a: Any, **k: Any) -> None:
                raise RuntimeError("broken")

        saved = get_global_textmap()
        propagate.set_global_textmap(Broken())  # type: ignore[arg-type]
        try:
            assert trace_id_of(extract({}, dict_getter)) == 0
            inject({}, kafka_setter)
        finally:
            propagate.set_global_textmap(saved)


class TestExtractShortcut:
    """extract() skips the propagator when the carrier has none of its fields."""

    def test_no_headers_gives_empty_context(self) -> None:
        """With the default propagators and no trace headers: an empty context, no parent."""
        for carrier, getter in [
            ({"HTTP_HOST": "x"}, wsgi_getter),
            ({"headers": [(b"host", b"x")]}, asgi_getter),
            ({"host": "x"}, dict_getter),
            ([("host", b"x")], kafka_getter),
        ]:
            ctx = extract(carrier, getter)
            assert {} == dict(ctx)

    def test_given_context_is_returned_as_is(self) -> None:
        """With no trace headers the context passed in comes back unchanged."""
        given_ctx = trace.set_span_in_context(trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT))
        assert given_ctx is extract({"HTTP_HOST": "x"}, wsgi_getter, given_ctx)

    def test_baggage_alone_is_still_read(self) -> None:
        """A carrier with only a baggage header still gets its baggage."""
        from opentelemetry import baggage

        ctx = extract({"HTTP_BAGGAGE": "user=alice"}, wsgi_getter)
        assert "alice" == baggage.get_baggage("user", ctx)

    def test_upper_case_header_names_still_read(self) -> None:
        """Header names in any case count as present (dict, ASGI and Kafka carriers)."""
        assert TRACE_ID == trace_id_of(extract({"TRACEPARENT": TRACEPARENT}, dict_getter))
        scope = {"headers": [(b"TRACEPARENT", TRACEPARENT.encode())]}
        assert TRACE_ID == trace_id_of(extract(scope, asgi_getter))
        assert TRACE_ID == trace_id_of(extract([("TraceParent", TRACEPARENT)], kafka_getter))

    def test_asgi_field_among_other_headers(self) -> None:
        """ASGI: a trace header after others, lower-case or not, is found; none means none."""
        tp = TRACEPARENT.encode()
        lower = {"headers": [(b"host", b"x"), (b"accept", b"*/*"), (b"traceparent", tp)]}
        mixed = {"headers": [(b"host", b"x"), (b"Accept", b"*/*"), (b"Traceparent", tp)]}
        other = {"headers": [(b"host", b"x"), (b"Accept", b"*/*"), (b"X-Trace", tp)]}
        assert (TRACE_ID, TRACE_ID, 0) == (
            trace_id_of(extract(lower, asgi_getter)),
            trace_id_of(extract(mixed, asgi_getter)),
            trace_id_of(extract(other, asgi_getter)),
        )

    def test_same_result_as_the_propagator(self) -> None:
        """Baggage first in the chain: with no context given, the current context comes back,
        exactly as running the propagators would give."""
        from opentelemetry import context as otel_context
        from opentelemetry import propagate
        from opentelemetry.baggage.propagation import W3CBaggagePropagator
        from opentelemetry.propagators.composite import CompositePropagator
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        saved = get_global_textmap()
        chain = CompositePropagator([W3CBaggagePropagator(), TraceContextTextMapPropagator()])
        propagate.set_global_textmap(chain)
        token = otel_context.attach(otel_context.set_value("k", "v"))
        try:
            expected = chain.extract({}, getter=dict_getter)
            actual = extract({}, dict_getter)
        finally:
            otel_context.detach(token)
            propagate.set_global_textmap(saved)
        assert "v" == actual.get("k")
        assert dict(expected) == dict(actual)

    def test_custom_propagator_always_runs(self) -> None:
        """A propagator we do not know reads its own headers, whatever its declared fields."""
        from opentelemetry import propagate
        from opentelemetry.context import Context

        seen: list[Any] = []

        class Custom:
            fields: set[str] = {"traceparent"}

            def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
                seen.append(getter.get(carrier, "x-custom-id"))
                return Context()

            def inject(self, *a: Any, **k: Any) -> None:
                return None

        saved = get_global_textmap()
        propagate.set_global_textmap(Custom())  # type: ignore[arg-type]
        try:
            extract({"HTTP_X_CUSTOM_ID": "42"}, wsgi_getter)
        finally:
            propagate.set_global_textmap(saved)
        assert [["42"]] == seen

    def test_odd_carrier_falls_back_to_the_propagator(self) -> None:
        """Header names that cannot be checked make extract run the propagator, which copes."""
        for odd in ([1], 1, None):
            scope = {"headers": [(odd, b"x"), (b"traceparent", TRACEPARENT.encode())]}
            assert TRACE_ID == trace_id_of(extract(scope, asgi_getter))


class TestInjectShortcut:
    """inject writes what the default propagators write, without running them when it can."""

    @staticmethod
    def _both(
        textmap: Any, context: Any = None, span: Any = None
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(what the propagator writes, what inject writes) for the same context."""
        from opentelemetry import propagate

        expected: dict[str, str] = {}
        actual: dict[str, str] = {}
        full = context if span is None else trace.set_span_in_context(span, context)
        from opentelemetry.propagators.textmap import default_setter

        textmap.inject(expected, context=full, setter=default_setter)
        saved = get_global_textmap()
        propagate.set_global_textmap(textmap)
        try:
            from spanwise.core.propagation import dict_setter

            inject(actual, dict_setter, context, span=span)
        finally:
            propagate.set_global_textmap(saved)
        return expected, actual

    @staticmethod
    def _span(flags: int = 1, state: str | None = None) -> trace.Span:
        from opentelemetry.trace import TraceFlags, TraceState

        return trace.NonRecordingSpan(
            trace.SpanContext(
                TRACE_ID,
                0x00F067AA0BA902B7,
                is_remote=False,
                trace_flags=TraceFlags(flags),
                trace_state=TraceState.from_header([state]) if state else TraceState(),
            )
        )

    def _chains(self) -> list[Any]:
        from opentelemetry.baggage.propagation import W3CBaggagePropagator
        from opentelemetry.propagators.composite import CompositePropagator
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        return [
            TraceContextTextMapPropagator(),
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]),
            CompositePropagator([W3CBaggagePropagator(), TraceContextTextMapPropagator()]),
            W3CBaggagePropagator(),
            # twice the same propagator: the shortcut does not apply, the chain runs
            CompositePropagator([TraceContextTextMapPropagator(), TraceContextTextMapPropagator()]),
        ]

    def test_same_headers_as_the_propagators(self) -> None:
        """Sampled or not, with or without tracestate, a given span or the context's: the same
        headers as every default chain writes."""
        from opentelemetry.context import Context

        for textmap in self._chains():
            for span in (self._span(), self._span(0), self._span(1, "vendor=abc,other=1")):
                expected, actual = self._both(textmap, span=span)
                assert expected == actual
                in_context = trace.set_span_in_context(span, Context())
                assert expected == self._both(textmap, context=in_context)[1]
        assert {"traceparent": TRACEPARENT} == self._both(self._chains()[1], span=self._span())[1]

    def test_invalid_or_missing_span_writes_nothing(self) -> None:
        """No valid span: nothing written, as the propagator writes nothing."""
        from opentelemetry.context import Context

        for textmap in self._chains():
            for context in (Context(), trace.set_span_in_context(trace.INVALID_SPAN, Context())):
                assert ({}, {}) == self._both(textmap, context=context)

    def test_baggage_runs_the_propagators(self) -> None:
        """With baggage in the context, the chain runs and the baggage header is written."""
        from opentelemetry import baggage
        from opentelemetry.context import Context

        with_bag = baggage.set_baggage("tenant", "acme", Context())
        for textmap in self._chains()[:4]:
            expected, actual = self._both(textmap, context=with_bag, span=self._span())
            assert expected == actual
        assert "tenant=acme" == self._both(self._chains()[1], with_bag, self._span())[1]["baggage"]

    def test_current_context_is_used_by_default(self) -> None:
        """No context given: the current span is injected."""
        from opentelemetry import context as otel_context
        from opentelemetry.context import Context

        token = otel_context.attach(trace.set_span_in_context(self._span(), Context()))
        try:
            expected, actual = self._both(self._chains()[1])
        finally:
            otel_context.detach(token)
        assert {"traceparent": TRACEPARENT} == expected == actual

    def test_custom_propagator_always_runs(self) -> None:
        """A propagator we do not know writes what it writes, given the span in its context."""
        seen: list[Any] = []

        class Custom:
            fields: set[str] = {"traceparent"}

            def extract(self, *a: Any, **k: Any) -> Any:
                return None

            def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
                seen.append(trace.get_current_span(context).get_span_context().trace_id)
                setter.set(carrier, "x-custom-id", "42")

        expected, actual = self._both(Custom(), span=self._span())
        assert ({"x-custom-id": "42"}, [TRACE_ID, TRACE_ID]) == (actual, seen)
        assert expected == actual

    def test_setter_failure_never_raises(self, monkeypatch: Any, caplog: Any) -> None:
        """A setter that fails is reported once, never raised, on the shortcut too."""
        from opentelemetry.context import Context

        from spanwise.core.propagation import _carriers

        monkeypatch.setattr(_carriers, "_reported", set())
        tried: list[str] = []

        class Refusing:
            def set(self, carrier: Any, key: str, value: str) -> None:
                tried.append(key)
                raise RuntimeError("read-only carrier")

        inject({}, Refusing(), trace.set_span_in_context(self._span(), Context()))
        assert ["traceparent"] == tried
        assert "failed to inject" in caplog.text
