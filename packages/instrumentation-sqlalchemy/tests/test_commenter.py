"""The SQL commenter's statement rewriting."""

from __future__ import annotations

from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, TraceFlags

from spanwise.instrumentation.sqlalchemy._commenter import add_trace_comment

CONTEXT = SpanContext(
    trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
    span_id=0x00F067AA0BA902B7,
    is_remote=False,
    trace_flags=TraceFlags(1),
)
COMMENT = "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/"


class TestAddTraceComment:
    def test_appends_traceparent(self) -> None:
        """The W3C traceparent of the span is appended as a sqlcommenter comment."""
        assert f"SELECT 1 {COMMENT}" == add_trace_comment("SELECT 1", CONTEXT)

    def test_before_final_semicolon(self) -> None:
        """A trailing semicolon (and white space) stays at the very end."""
        assert f"SELECT 1 {COMMENT};" == add_trace_comment("SELECT 1 ;  \n", CONTEXT)

    def test_unsampled_flags(self) -> None:
        """An unsampled context is sent with flags 00."""
        unsampled = SpanContext(CONTEXT.trace_id, CONTEXT.span_id, False, TraceFlags(0))
        assert add_trace_comment("SELECT 1", unsampled).endswith("-00'*/")

    def test_existing_comment_left_alone(self) -> None:
        """A statement that already has a comment is not changed (sqlcommenter rule)."""
        statement = "SELECT /* app */ 1"
        assert statement == add_trace_comment(statement, CONTEXT)

    def test_invalid_context_left_alone(self) -> None:
        """Without a valid trace context nothing is appended."""
        assert add_trace_comment("SELECT 1", INVALID_SPAN_CONTEXT) == "SELECT 1"
