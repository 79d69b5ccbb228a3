"""The field names, their defaults and the default format."""

from __future__ import annotations

import logging

from spanwise.instrumentation.logging import DEFAULT_FORMAT, FIELDS, RECORD_DEFAULTS


class TestFields:
    def test_contrib_names(self) -> None:
        """The names opentelemetry-python-contrib users already have in their formats."""
        assert ("otelTraceID", "otelSpanID", "otelTraceSampled", "otelServiceName") == FIELDS
        assert set(FIELDS) == set(RECORD_DEFAULTS)

    def test_default_format_formats_with_defaults(self) -> None:
        """DEFAULT_FORMAT formats a plain record when given RECORD_DEFAULTS."""
        formatter = logging.Formatter(DEFAULT_FORMAT, defaults=dict(RECORD_DEFAULTS))
        record = logging.LogRecord("n", logging.INFO, "f.py", 3, "hi", (), None)
        text = formatter.format(record)
        assert text.endswith(
            "[trace_id=0 span_id=0 resource.service.name= trace_sampled=False] - hi"
        )
