"""Our own message headers: written plainly, read back tolerantly."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.trace import SpanContext, TraceFlags

from spanwise.core.propagation import MAX_HEADER_VALUE
from spanwise.instrumentation.celery._headers import (
    read_retry_of,
    read_sent_at,
    request_getter,
    write_retry_of,
    write_sent_at,
)

anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary(),
    st.lists(st.text(), max_size=3),
)  # fmt: skip


class TestSentAt:
    """The publish timestamp header."""

    def test_round_trip(self):
        """What is written is read back."""
        headers: dict[str, Any] = {}
        write_sent_at(headers, now=1700000000.25)
        assert 1700000000.25 == read_sent_at(headers)

    def test_defaults_to_now(self):
        """Without *now*, the current time is stamped."""
        headers: dict[str, Any] = {}
        write_sent_at(headers)
        assert read_sent_at(headers) is not None

    def test_unusable_values_read_as_none(self):
        """Missing, text, booleans, NaN, infinity, zero and negatives are ignored."""
        values = [None, "1700000000", True, float("nan"), float("inf"), 0, -5.0]
        assert [None] * len(values) == [read_sent_at({"spanwise_sent_at": v}) for v in values]

    @given(anything)
    def test_never_raises(self, value):
        """Any value reads as a positive finite float or ``None``."""
        got = read_sent_at({"spanwise_sent_at": value})
        assert got is None or (isinstance(got, float) and got > 0)


class TestRetryOf:
    """The header naming the attempt that asked for a retry."""

    def test_round_trip(self):
        """A valid span context is written and read back as a remote, sampled context."""
        previous = SpanContext(0xABC, 0xDEF, is_remote=False)
        headers: dict[str, Any] = {}
        write_retry_of(headers, previous)
        expected = SpanContext(
            0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
        assert expected == read_retry_of(headers)

    def test_invalid_context_is_not_written(self):
        """An invalid span context writes nothing."""
        headers: dict[str, Any] = {}
        write_retry_of(headers, SpanContext(0, 0, is_remote=False))
        assert {} == headers

    def test_malformed_values_read_as_none(self):
        """Wrong length, separator, non-hex digits, signs, underscores and zero ids are ignored."""
        values = [
            None, 7, "", "a-b", "0" * 32 + "-" + "0" * 16, "g" * 32 + "-" + "1" * 16,
            "1" * 32 + "_" + "1" * 16, "+" + "1" * 31 + "-" + "1" * 16,
            "1" * 31 + "_" + "-" + "1" * 16, "1" * 32 + "-" + "1" * 15 + " ",
        ]  # fmt: skip
        assert [None] * len(values) == [read_retry_of({"spanwise_retry_of": v}) for v in values]

    @given(anything)
    def test_never_raises(self, value):
        """Any value reads as a valid span context or ``None``."""
        got = read_retry_of({"spanwise_retry_of": value})
        assert got is None or got.is_valid


class TestRequestGetter:
    """Propagation headers read from a request's fields."""

    def test_exact_key(self):
        """A text value under the exact key is returned; other keys are not consulted."""
        carrier = {"traceparent": "00-abc", "Tracestate": "k=v"}
        assert (["00-abc"], None) == (
            request_getter.get(carrier, "traceparent"),
            request_getter.get(carrier, "tracestate"),
        )

    def test_lists_keep_usable_text_only(self):
        """Repeated values: text ones kept in order, others dropped."""
        carrier = {"baggage": ["a=1", 7, None, "b=2", "\udcff"]}
        assert ["a=1", "b=2"] == request_getter.get(carrier, "baggage")

    def test_unusable_values_are_absent(self):
        """Non-text, oversized and non-ASCII values read as absent."""
        values = [None, 5, b"00-abc", "x" * (MAX_HEADER_VALUE + 1), "caf\u00e9", "\udcff", []]
        assert [None] * len(values) == [request_getter.get({"k": v}, "k") for v in values]

    def test_keys(self):
        """Only text keys are listed."""
        assert ["a", "b"] == request_getter.keys({"a": 1, 2: 3, "b": 4})

    @given(st.dictionaries(st.text(max_size=5), anything, max_size=5), st.text(max_size=5))
    def test_never_raises(self, carrier, key):
        """Any mapping and key give a list of strings or ``None``."""
        got = request_getter.get(carrier, key)
        assert got is None or all(isinstance(v, str) for v in got)
