"""RetryingSpanExporter: backoff with full jitter, Retry-After, giving up, shutdown."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spanwise.core.export import RetryingSpanExporter, RetryStats, parse_retry_after

_EXPORTER_VERSION = tuple(
    int(part) for part in version("opentelemetry-exporter-otlp-proto-http").split(".")[:2]
)


class Scripted(SpanExporter):
    """A backend stand-in: answers each export with the next scripted outcome."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[int] = []
        self.shut_down = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls.append(len(spans))
        outcome = self.outcomes.pop(0) if self.outcomes else SpanExportResult.SUCCESS
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, SpanExportResult)
        return outcome

    def shutdown(self) -> None:
        self.shut_down = True


class Recording(RetryingSpanExporter):
    """Records each wait instead of sleeping."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.waits: list[float] = []

    def _wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False


class RetryAfterError(Exception):
    def __init__(self, retry_after: object) -> None:
        super().__init__("throttled")
        self.retry_after = retry_after


def make_spans(n: int = 3) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for i in range(n):
        with tracer.start_as_current_span(f"span-{i}"):
            pass
    return list(memory.get_finished_spans())


FAIL = SpanExportResult.FAILURE
OK = SpanExportResult.SUCCESS


class TestParseRetryAfter:
    def test_delay_seconds(self) -> None:
        """A number of seconds is taken as is."""
        assert 120.0 == parse_retry_after("120")
        assert 1.5 == parse_retry_after(b" 1.5 ")
        assert 3.0 == parse_retry_after(3)

    def test_http_date(self) -> None:
        """An HTTP-date gives the seconds from now until then."""
        now = 1_800_000_000.0
        assert 30.0 == parse_retry_after(formatdate(now + 30, usegmt=True), now=now)

    def test_date_in_the_past(self) -> None:
        """A date already past means retry now."""
        now = 1_800_000_000.0
        assert 0.0 == parse_retry_after(formatdate(now - 30, usegmt=True), now=now)

    def test_junk(self) -> None:
        """Unparseable, negative, infinite or missing values give None."""
        for junk in (None, "", "soon", "-5", "inf", "nan", float("nan"), True, "\xff" * 10_000, -1):
            assert None is parse_retry_after(junk), junk


class TestRetryingSpanExporter:
    def test_success_first_time(self) -> None:
        """A batch the backend takes is exported once, with no wait."""
        inner = Scripted(OK)
        retrying = Recording(inner)
        assert OK == retrying.export(make_spans(3))
        assert [3] == inner.calls
        assert [] == retrying.waits
        assert RetryStats(spans_sent=3, spans_given_up=0, retries=0) == retrying.stats()

    def test_retries_until_success(self) -> None:
        """Failures are retried; the batch counts as sent once an attempt succeeds."""
        inner = Scripted(FAIL, FAIL, OK)
        retrying = Recording(inner, rng=lambda low, high: high)
        assert OK == retrying.export(make_spans(2))
        assert [2, 2, 2] == inner.calls
        assert [1.0, 2.0] == retrying.waits
        assert RetryStats(spans_sent=2, spans_given_up=0, retries=2) == retrying.stats()

    def test_exponential_capped_backoff(self) -> None:
        """The upper bound grows by the multiplier and stops at max_delay."""
        inner = Scripted(*[FAIL] * 6)
        retrying = Recording(
            inner, max_attempts=6, initial_delay=0.5, max_delay=3.0, multiplier=3.0,
            rng=lambda low, high: high,
        )  # fmt: skip
        assert FAIL == retrying.export(make_spans(1))
        assert [0.5, 1.5, 3.0, 3.0, 3.0] == retrying.waits

    def test_full_jitter(self) -> None:
        """Each wait is drawn from [0, cap]."""
        bounds: list[tuple[float, float]] = []

        def rng(low: float, high: float) -> float:
            bounds.append((low, high))
            return high / 2

        retrying = Recording(Scripted(FAIL, FAIL, OK), rng=rng)
        assert OK == retrying.export(make_spans(1))
        assert [(0.0, 1.0), (0.0, 2.0)] == bounds
        assert [0.5, 1.0] == retrying.waits

    def test_gives_up_after_max_attempts(self, caplog: pytest.LogCaptureFixture) -> None:
        """After max_attempts failures: FAILURE, spans counted, one warning for all give-ups."""
        inner = Scripted(*[FAIL] * 6)
        retrying = Recording(inner, max_attempts=3, rng=lambda low, high: 0.0)
        with caplog.at_level(logging.DEBUG, logger="spanwise.core.export._retrying"):
            assert FAIL == retrying.export(make_spans(4))
            assert FAIL == retrying.export(make_spans(1))
        assert [4, 4, 4, 1, 1, 1] == inner.calls
        assert RetryStats(spans_sent=0, spans_given_up=5, retries=4) == retrying.stats()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert 1 == len(warnings)
        assert "gave up exporting 4 spans after 3 attempts" in warnings[0].getMessage()

    def test_exception_is_a_failure(self) -> None:
        """An exporter that raises is retried; the exception never reaches the caller."""
        inner = Scripted(RuntimeError("boom"), OK)
        retrying = Recording(inner, rng=lambda low, high: high)
        assert OK == retrying.export(make_spans(1))
        assert [1.0] == retrying.waits

    def test_retry_after_from_exception(self) -> None:
        """An exception carrying retry_after sets the wait instead of the backoff."""
        inner = Scripted(RetryAfterError(7), RetryAfterError("2.5"), OK)
        retrying = Recording(inner, rng=lambda low, high: high)
        assert OK == retrying.export(make_spans(1))
        assert [7.0, 2.5] == retrying.waits

    def test_retry_after_noted(self) -> None:
        """A Retry-After noted during the attempt sets the next wait."""
        retrying: Recording

        class Throttling(Scripted):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                if not self.calls:
                    retrying.note_retry_after(12.0)
                return super().export(spans)

        retrying = Recording(Throttling(FAIL, FAIL, OK), rng=lambda low, high: high)
        assert OK == retrying.export(make_spans(1))
        assert [12.0, 2.0] == retrying.waits

    def test_stale_retry_after_ignored(self) -> None:
        """A value noted before an attempt (an earlier batch's) does not set its wait."""
        retrying = Recording(Scripted(FAIL, OK), rng=lambda low, high: high)
        retrying.note_retry_after(99.0)
        assert OK == retrying.export(make_spans(1))
        assert [1.0] == retrying.waits

    def test_retry_after_beyond_limit_gives_up(self) -> None:
        """A Retry-After beyond max_retry_after is not waited for: the batch is given up."""
        inner = Scripted(RetryAfterError(3600), OK)
        retrying = Recording(inner, max_retry_after=60.0)
        assert FAIL == retrying.export(make_spans(2))
        assert [2] == inner.calls
        assert [] == retrying.waits
        assert 2 == retrying.stats().spans_given_up

    def test_shutdown_interrupts_a_wait(self) -> None:
        """shutdown() ends a long backoff wait at once; the batch is given up."""
        inner = Scripted(*[FAIL] * 10)
        retrying = RetryingSpanExporter(inner, initial_delay=600.0, rng=lambda low, high: high)
        results: list[SpanExportResult] = []
        worker = threading.Thread(target=lambda: results.append(retrying.export(make_spans(1))))
        worker.start()
        while not inner.calls:
            time.sleep(0.01)
        retrying.shutdown()
        worker.join(10)
        assert not worker.is_alive()
        assert [FAIL] == results
        assert inner.shut_down
        assert 1 == retrying.stats().spans_given_up

    def test_export_after_shutdown(self) -> None:
        """After shutdown, export fails at once without calling the wrapped exporter."""
        inner = Scripted()
        retrying = RetryingSpanExporter(inner)
        retrying.shutdown()
        assert FAIL == retrying.export(make_spans(1))
        assert [] == inner.calls

    def test_rejects_bad_settings(self) -> None:
        """Nonsense settings are refused at construction."""
        with pytest.raises(ValueError):
            RetryingSpanExporter(Scripted(), max_attempts=0)
        with pytest.raises(ValueError):
            RetryingSpanExporter(Scripted(), multiplier=0.5)

    def test_force_flush_delegates(self) -> None:
        """force_flush is the wrapped exporter's."""
        assert RetryingSpanExporter(InMemorySpanExporter()).force_flush(10)


class ThrottlingReceiver:
    """An OTLP/HTTP endpoint on 127.0.0.1 answering with scripted (status, headers) replies."""

    def __init__(self, replies: list[tuple[int, dict[str, str]]]) -> None:
        self.replies = replies
        self.spans: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, headers = outer.replies.pop(0) if outer.replies else (200, {})
                if status == 200:
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    for rs in request.resource_spans:
                        for ss in rs.scope_spans:
                            outer.spans.extend(s.name for s in ss.spans)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory() -> Iterator[list[ThrottlingReceiver]]:
    made: list[ThrottlingReceiver] = []
    yield made
    for r in made:
        r.close()


class TestForOtlpHttp:
    def test_retry_after_header_honoured(self, receiver_factory: list[ThrottlingReceiver]) -> None:
        """A 429 with Retry-After longer than the OTLP timeout: we wait exactly that, then send."""
        rx = ThrottlingReceiver([(429, {"Retry-After": "7"})])
        receiver_factory.append(rx)
        retrying = Recording.for_otlp_http(endpoint=rx.endpoint, timeout=1.0)
        try:
            assert OK == retrying.export(make_spans(2))
        finally:
            retrying.shutdown()
        assert [7.0] == retrying.waits
        assert ["span-0", "span-1"] == rx.spans

    @pytest.mark.skipif(
        _EXPORTER_VERSION < (1, 45),
        reason="before 1.45 the OTLP/HTTP exporter may retry a 503 itself, within its timeout",
    )
    def test_503_http_date(self, receiver_factory: list[ThrottlingReceiver]) -> None:
        """A 503 with an HTTP-date Retry-After is honoured too."""
        rx = ThrottlingReceiver([(503, {"Retry-After": formatdate(time.time() + 40, usegmt=True)})])
        receiver_factory.append(rx)
        retrying = Recording.for_otlp_http(endpoint=rx.endpoint, timeout=1.0)
        try:
            assert OK == retrying.export(make_spans(1))
        finally:
            retrying.shutdown()
        assert 1 == len(retrying.waits)
        assert 35.0 < retrying.waits[0] <= 40.0

    def test_no_retry_after_uses_backoff(self, receiver_factory: list[ThrottlingReceiver]) -> None:
        """A 400 (not retryable by OTLP itself) carries no Retry-After: our backoff applies."""
        rx = ThrottlingReceiver([(400, {"Retry-After": "50"})])
        receiver_factory.append(rx)
        retrying = Recording.for_otlp_http(endpoint=rx.endpoint, timeout=1.0)
        retrying._rng = lambda low, high: high
        try:
            assert OK == retrying.export(make_spans(1))
        finally:
            retrying.shutdown()
        assert [1.0] == retrying.waits

    def test_malformed_retry_after(self, receiver_factory: list[ThrottlingReceiver]) -> None:
        """A garbage Retry-After is ignored, never raised."""
        rx = ThrottlingReceiver([(429, {"Retry-After": "tomorrow-ish"})] * 8)
        receiver_factory.append(rx)
        retrying = Recording.for_otlp_http(
            endpoint=rx.endpoint, timeout=0.5, max_attempts=2, initial_delay=0.0
        )
        try:
            assert FAIL == retrying.export(make_spans(1))
        finally:
            retrying.shutdown()
        assert [0.0] == retrying.waits
        assert [] == rx.spans


class TestExportModule:
    def test_exported_members(self) -> None:
        """spanwise.core.export exports exactly these names, each resolvable."""
        import spanwise.core.export

        assert sorted(
            [
                "BufferStats", "ConsoleSpanTreeExporter", "DiskBufferedSpanExporter", "RetryStats",
                "RetryingSpanExporter", "decode_spans", "encode_spans", "format_duration",
                "format_trace_tree", "parse_retry_after",
            ]
        ) == sorted(spanwise.core.export.__all__)  # fmt: skip
        for name in spanwise.core.export.__all__:
            assert hasattr(spanwise.core.export, name), name
