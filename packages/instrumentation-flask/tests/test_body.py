"""spanwise.instrumentation.flask._body."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.trace import StatusCode
from werkzeug.test import EnvironBuilder

from spanwise.core import Guard, HttpServerTracer, Options
from spanwise.instrumentation.flask._body import ClosingBody


def _request() -> Any:
    server = HttpServerTracer(
        trace.get_tracer("t"), metrics.get_meter("t"), Options.build("flask", {}), Guard("t")
    )
    return server.start_wsgi(EnvironBuilder(path="/x").get_environ())


class _Closable:
    def __init__(self, chunks: list[bytes], fail_close: bool = False) -> None:
        self.chunks = chunks
        self.closed = 0
        self.fail_close = fail_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed += 1
        if self.fail_close:
            raise OSError("close failed")


class TestClosingBody:
    def test_iterates_the_chunks_unchanged(self, telemetry: Any) -> None:
        """The server gets exactly the app's chunks, in order."""
        body = ClosingBody([b"a", b"", b"bc"], _request(), Guard("t"))
        chunks = list(body)
        body.close()
        assert [b"a", b"", b"bc"] == chunks

    def test_span_ends_on_close_not_before(self, telemetry: Any) -> None:
        """Iterating does not end the span; close() does."""
        body = ClosingBody([b"a"], _request(), Guard("t"))
        list(body)
        before = len(telemetry.spans())
        body.close()
        assert (0, 1) == (before, len(telemetry.spans()))

    def test_close_closes_the_app_iterable_once(self, telemetry: Any) -> None:
        """The app's own close() runs exactly once."""
        inner = _Closable([b"a"])
        ClosingBody(inner, _request(), Guard("t")).close()
        assert 1 == inner.closed

    def test_span_ends_even_if_the_app_close_raises(self, telemetry: Any) -> None:
        """The app's close() error reaches the server unchanged, and the span still ends."""
        body = ClosingBody(_Closable([b"a"], fail_close=True), _request(), Guard("t"))
        with pytest.raises(OSError, match="close failed"):
            body.close()
        assert 1 == len(telemetry.spans())

    def test_error_while_streaming_is_recorded_and_reraised(self, telemetry: Any) -> None:
        """An exception from the app's generator is re-raised and recorded on the span."""

        def chunks() -> Iterator[bytes]:
            yield b"a"
            raise KeyError("late")

        body = ClosingBody(chunks(), _request(), Guard("t"))
        got = []
        with pytest.raises(KeyError):
            got.extend(body)
        body.close()
        span = telemetry.spans()[0]
        assert ([b"a"], StatusCode.ERROR, "KeyError") == (
            got,
            span.status.status_code,
            span.attributes["error.type"],
        )
