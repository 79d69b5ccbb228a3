"""A span exporter that retries a failed batch with backoff and honours ``Retry-After``."""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["RetryStats", "RetryingSpanExporter", "parse_retry_after"]

_log = logging.getLogger(__name__)

#: Responses whose ``Retry-After`` header is honoured.
RETRY_AFTER_STATUSES = frozenset({429, 503})

_R = TypeVar("_R", bound="RetryingSpanExporter")


def parse_retry_after(value: object, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP-date), or None.

    Anything unparseable, negative, infinite or NaN gives ``None``; a date in the past gives 0.

    .. versionadded:: 0.1.0
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()[:64]
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryStats:
    """What a :class:`RetryingSpanExporter` has done so far.

    ``spans_given_up``: spans of batches that failed ``max_attempts`` times (or were cut short by
    shutdown). Under a :class:`DiskBufferedSpanExporter` those are kept on disk, not lost.
    """

    spans_sent: int
    spans_given_up: int
    retries: int


class RetryingSpanExporter(SpanExporter):
    """Retry a failed export with exponential backoff and full jitter.

    Attempt ``n`` (from 1) that fails is followed by a wait drawn uniformly from
    ``[0, min(max_delay, initial_delay * multiplier ** (n - 1))]``, unless the backend said how
    long to wait: a ``Retry-After`` on a 429/503 (noted through :meth:`note_retry_after`, which
    :meth:`requests_hook` and :meth:`for_otlp_http` wire up), or an exception raised by the
    wrapped exporter carrying a numeric ``retry_after`` attribute. A ``Retry-After`` longer than
    ``max_retry_after`` is not waited for: the batch is given up at once (a caller such as the
    disk buffer keeps it). After ``max_attempts`` failures the batch is given up: counted in
    :meth:`stats` and logged (a warning the first time, debug afterwards); ``FAILURE`` is returned.

    Waiting happens in :meth:`export`, on the calling thread: use this exporter under a
    ``BatchSpanProcessor`` (whose worker thread calls ``export``) or a
    :class:`DiskBufferedSpanExporter` (whose sender thread does), never under a
    ``SimpleSpanProcessor``, which would block the application thread. :meth:`shutdown`
    interrupts any wait at once (the waits are on an ``Event``), so the processor's shutdown
    timeout is respected.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        exporter: SpanExporter,
        max_attempts: int = 5,
        initial_delay: float = 1.0,
        max_delay: float = 30.0,
        multiplier: float = 2.0,
        *,
        max_retry_after: float = 300.0,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if initial_delay < 0 or max_delay < 0 or multiplier < 1:
            raise ValueError("delays must be >= 0 and multiplier >= 1")
        self.exporter = exporter
        self.max_attempts = max_attempts
        self.initial_delay = initial_delay
        self.max_delay = max_delay
        self.multiplier = multiplier
        self.max_retry_after = max_retry_after
        self._rng = rng
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._retry_after: float | None = None
        self._sent = 0
        self._given_up = 0
        self._retries = 0
        self._warned = False

    # -- construction helpers ------------------------------------------------------------

    @classmethod
    def for_otlp_http(
        cls: type[_R],
        max_attempts: int = 5,
        initial_delay: float = 1.0,
        max_delay: float = 30.0,
        multiplier: float = 2.0,
        *,
        max_retry_after: float = 300.0,
        **otlp_kwargs: Any,
    ) -> _R:
        """An OTLP/HTTP span exporter wrapped so that ``Retry-After`` reaches the retry logic.

        ``otlp_kwargs`` go to the official ``OTLPSpanExporter`` (OTLP/HTTP). That exporter
        retries internally until its own ``timeout`` (10 s by default) and does not report
        ``Retry-After``; we give it a ``requests`` session whose response hook notes the header,
        and pass a small ``timeout`` (5 s unless given) to bound its internal retry.

        .. versionadded:: 0.1.0
        """
        import requests
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        session = otlp_kwargs.pop("session", None) or requests.Session()
        otlp_kwargs.setdefault("timeout", 5.0)
        otlp = OTLPSpanExporter(session=session, **otlp_kwargs)
        retrying = cls(
            otlp,
            max_attempts,
            initial_delay,
            max_delay,
            multiplier,
            max_retry_after=max_retry_after,
        )
        session.hooks.setdefault("response", []).append(retrying.requests_hook)
        return retrying

    def requests_hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A ``requests`` response hook: notes ``Retry-After`` of a 429/503 response.

        .. versionadded:: 0.1.0
        """
        try:
            if getattr(response, "status_code", None) in RETRY_AFTER_STATUSES:
                headers: Mapping[str, str] = response.headers
                seconds = parse_retry_after(headers.get("Retry-After"))
                if seconds is not None:
                    self.note_retry_after(seconds)
        except Exception:  # noqa: BLE001 - a hook must never break the export
            _log.debug("could not read Retry-After", exc_info=True)

    def note_retry_after(self, seconds: float) -> None:
        """Tell the exporter the backend asked for ``seconds`` before the next attempt.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            self._retry_after = seconds

    def _take_retry_after(self) -> float | None:
        with self._lock:
            value, self._retry_after = self._retry_after, None
        return value

    # -- SpanExporter ---------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export, retrying failures; ``SUCCESS`` once any attempt succeeds."""
        if self._stop.is_set():
            return SpanExportResult.FAILURE
        attempt = 0
        while True:
            attempt += 1
            self._take_retry_after()  # a stale value from an earlier batch must not count
            retry_after: float | None = None
            try:
                result = self.exporter.export(spans)
            except Exception as exc:  # noqa: BLE001
                result = SpanExportResult.FAILURE
                retry_after = parse_retry_after(getattr(exc, "retry_after", None))
                _log.debug("export attempt %d raised", attempt, exc_info=True)
            if result is SpanExportResult.SUCCESS:
                with self._lock:
                    self._sent += len(spans)
                return SpanExportResult.SUCCESS
            noted = self._take_retry_after()
            if retry_after is None:
                retry_after = noted
            if attempt >= self.max_attempts or self._stop.is_set():
                break
            if retry_after is not None and retry_after > self.max_retry_after:
                break
            delay = retry_after if retry_after is not None else self.backoff(attempt)
            with self._lock:
                self._retries += 1
            if self._wait(delay):
                break
        self._give_up(len(spans), attempt)
        return SpanExportResult.FAILURE

    def backoff(self, attempt: int) -> float:
        """The full-jitter wait after failed attempt ``attempt`` (from 1)."""
        cap = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return self._rng(0.0, cap)

    def _wait(self, seconds: float) -> bool:
        """Wait between attempts; True if shutdown cut it short."""
        return self._stop.wait(seconds)

    def _give_up(self, count: int, attempts: int) -> None:
        with self._lock:
            self._given_up += count
            first = not self._warned
            self._warned = True
        _log.log(
            logging.WARNING if first else logging.DEBUG,
            "gave up exporting %d spans after %d attempts (further give-ups are logged at debug)",
            count,
            attempts,
        )

    def stats(self) -> RetryStats:
        """Counts so far."""
        with self._lock:
            return RetryStats(self._sent, self._given_up, self._retries)

    def shutdown(self) -> None:
        """Interrupt any wait, then shut the wrapped exporter down."""
        self._stop.set()
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the wrapped exporter."""
        return self.exporter.force_flush(timeout_millis)
