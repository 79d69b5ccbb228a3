"""A metric reader that serves a Prometheus scrape endpoint, exemplars included."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricReader, MetricsData

from .._guard import Guard
from ._exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, render_metrics

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "PrometheusExemplarReader", "wants_openmetrics"]

logger = logging.getLogger("spanwise")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464

_CUMULATIVE: dict[type, AggregationTemporality] = {
    cls: AggregationTemporality.CUMULATIVE
    for cls in (
        Counter,
        UpDownCounter,
        Histogram,
        ObservableCounter,
        ObservableUpDownCounter,
        ObservableGauge,
    )
}
_MAX_ACCEPT = 4096


def wants_openmetrics(accept: str | None) -> bool:
    """Whether an ``Accept`` header prefers OpenMetrics text over Prometheus text 0.0.4.

    OpenMetrics wins when it is acceptable (q > 0) and ranked at least as high as
    ``text/plain``; a missing header, ``*/*`` or anything unparsable gets text 0.0.4.

    .. versionadded:: 0.1.0
    """
    if not accept:
        return False
    best = {"openmetrics": 0.0, "text": 0.0}
    for part in accept[:_MAX_ACCEPT].split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media == "application/openmetrics-text":
            best["openmetrics"] = max(best["openmetrics"], quality)
        elif media in ("text/plain", "text/*", "*/*"):
            best["text"] = max(best["text"], quality)
    return best["openmetrics"] > 0 and best["openmetrics"] >= best["text"]


class PrometheusExemplarReader(MetricReader):
    """Serves the metrics for Prometheus to scrape, collecting on each scrape.

    Listens on ``http://{host}:{port}/metrics`` (``127.0.0.1:9464`` by default; ``port=0``
    picks a free port, see :attr:`port`) from a daemon thread. A scraper that accepts
    OpenMetrics (Prometheus does) gets OpenMetrics 1.0 with exemplars on histogram buckets and
    counters, linking each to the trace id and span id of a sampled request; others get
    Prometheus text 0.0.4. Every instrument is read with cumulative temporality, as
    Prometheus expects.

    If the address cannot be bound the reader logs one warning and serves nothing; the
    application goes on. ``start_server=False`` builds a reader that only renders
    (:meth:`render`), for serving it from an existing web app.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        start_server: bool = True,
    ) -> None:
        super().__init__(preferred_temporality=dict(_CUMULATIVE))
        self.guard = Guard("prometheus")
        self._render_lock = threading.Lock()
        self._received: MetricsData | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._host = host
        if start_server:
            self.serve(host, port)

    # -- serving ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The host the endpoint listens (or would listen) on."""
        return self._host

    @property
    def port(self) -> int | None:
        """The port actually listened on (``None`` when not serving)."""
        return self._server.server_address[1] if self._server is not None else None

    @property
    def url(self) -> str | None:
        """The scrape URL (``None`` when not serving)."""
        port = self.port
        return None if port is None else f"http://{self._host}:{port}/metrics"

    def render(self, openmetrics: bool = True) -> str:
        """Collect now and return the exposition text (OpenMetrics or text 0.0.4)."""
        with self._render_lock:
            self._received = None
            self.collect()
            data, self._received = self._received, None
        return render_metrics(data, openmetrics)

    def serve(self, host: str | None = None, port: int = DEFAULT_PORT) -> bool:
        """Start serving on *host*:*port* (``0``: any free port); False if it cannot listen
        (logged once, never raised). Does nothing and returns True if already serving.

        .. versionadded:: 0.1.0
        """
        if self._server is not None:
            return True
        self._serve(self._host if host is None else host, port)
        return self._server is not None

    def release_after_fork(self) -> bool:
        """In a forked child: let go of the parent's listening socket (the child's copy only;
        the parent keeps serving) and renew the locks. Returns whether the parent was serving;
        call :meth:`serve` afterwards to serve from the child on a port of its own.

        .. versionadded:: 0.1.0
        """
        self._render_lock = threading.Lock()  # a parent's scrape may have held it at fork
        server, self._server, self._thread = self._server, None, None
        if server is None:
            return False
        server.socket.close()
        return True

    def _serve(self, host: str, port: int) -> None:
        self._host = host
        try:
            server = ThreadingHTTPServer((host, port), _Handler)
        except OSError as exc:
            logger.warning(
                "spanwise metrics: the Prometheus endpoint could not listen on %s:%s (%s); "
                "metrics are not served",
                host,
                port,
                exc,
            )
            return
        server.daemon_threads = True
        server.reader = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="spanwise-prometheus",
            daemon=True,
        )
        self._thread.start()

    # -- MetricReader -------------------------------------------------------------------------

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._received = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Stop serving and close the listening socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout_millis / 1000)


class _Handler(BaseHTTPRequestHandler):
    timeout = 10  # a stalled client does not hold a thread forever
    server_version = "spanwise-prometheus"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path not in ("/metrics", "/"):
            self._send(404, "text/plain; charset=utf-8", b"not found: scrape /metrics\n")
            return
        reader: PrometheusExemplarReader = self.server.reader  # type: ignore[attr-defined]
        openmetrics = wants_openmetrics(self.headers.get("Accept"))
        try:
            body = reader.render(openmetrics).encode("utf-8")
        except Exception as exc:  # noqa: BLE001 - a failed scrape must not kill the thread
            reader.guard.report("scrape", exc)
            self._send(500, "text/plain; charset=utf-8", b"collection failed\n")
            return
        self._send(200, OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE, body)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""
