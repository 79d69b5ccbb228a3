"""add_field_defaults: formats mentioning the fields keep formatting without them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from spanwise.instrumentation.logging._formatters import add_field_defaults


@pytest.fixture
def handler() -> Iterator[logging.Handler]:
    """A handler attached to a logger, removed after the test."""
    handler = logging.NullHandler()
    logger = logging.getLogger("formatters-test")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


class TestAddFieldDefaults:
    def test_adds_defaults_for_mentioned_fields(self, handler: logging.Handler) -> None:
        """Only the fields the format mentions get a default."""
        handler.setFormatter(logging.Formatter("%(message)s %(otelSpanID)s"))
        add_field_defaults()
        assert {"otelSpanID": "0"} == handler.formatter._style._defaults  # type: ignore[union-attr]

    def test_keeps_users_defaults(self, handler: logging.Handler) -> None:
        """A default the application set wins."""
        handler.setFormatter(
            logging.Formatter("%(otelSpanID)s %(otelTraceID)s", defaults={"otelSpanID": "-"})
        )
        add_field_defaults()
        assert {"otelSpanID": "-", "otelTraceID": "0"} == handler.formatter._style._defaults  # type: ignore[union-attr]

    def test_other_formats_untouched(self, handler: logging.Handler) -> None:
        """A format without the fields is not changed."""
        handler.setFormatter(logging.Formatter("%(message)s"))
        add_field_defaults()
        assert handler.formatter._style._defaults is None  # type: ignore[union-attr]

    def test_record_values_win(self, handler: logging.Handler) -> None:
        """A record that has the field formats with its own value."""
        formatter = logging.Formatter("%(otelSpanID)s")
        handler.setFormatter(formatter)
        add_field_defaults()
        record = logging.LogRecord("n", logging.INFO, "f", 1, "m", (), None)
        assert "0" == formatter.format(record)
        record.otelSpanID = "abc"
        assert "abc" == formatter.format(record)
