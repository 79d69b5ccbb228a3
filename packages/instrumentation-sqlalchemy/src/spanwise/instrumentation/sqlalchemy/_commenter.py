"""SQL commenter: the statement carries the trace context to the database (off by default)."""

from __future__ import annotations

from opentelemetry.trace import SpanContext

__all__ = ["add_trace_comment"]


def add_trace_comment(statement: str, span_context: SpanContext) -> str:
    """*statement* with ``/*traceparent='00-…'*/`` appended (before a final ``;``).

    Following the sqlcommenter specification, a statement that already holds a comment is
    left as it is, and so is one sent without a valid trace context.
    """
    if not span_context.is_valid or "/*" in statement:
        return statement
    comment = (
        f"/*traceparent='00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
        f"-{int(span_context.trace_flags):02x}'*/"
    )
    body = statement.rstrip()
    if body.endswith(";"):
        return f"{body[:-1].rstrip()} {comment};"
    return f"{body} {comment}"
