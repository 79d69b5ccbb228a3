"""``RequestsInstrumentor``: traces every request sent through ``requests``."""

from __future__ import annotations

from spanwise.core import HttpClientTracer, Instrumentor

from ._send import SendStep

__all__ = ["RequestsInstrumentor"]


class RequestsInstrumentor(Instrumentor):
    """Traces outgoing HTTP requests made with ``requests`` (``requests.get``, sessions …).

    It patches ``requests.Session.send``, which every request goes through: one CLIENT span
    named ``{METHOD}`` per request sent (redirects followed are spans of their own, nested
    under the first), the trace context injected into the request headers, and the metric
    ``http.client.request.duration``.

    Options (keyword arguments of :meth:`instrument`):
    ``excluded_urls`` (or ``OTEL_PYTHON_REQUESTS_EXCLUDED_URLS``), ``request_hook(span,
    request)``, ``response_hook(span, request, response)``, ``capture_client_request_headers``,
    ``capture_client_response_headers``, ``tracer_provider``, ``meter_provider``.

    .. versionadded:: 0.1.0
    """

    name = "requests"
    distribution = "spanwise-instrumentation-requests"

    def _instrument(self) -> None:
        tracer = HttpClientTracer(self.tracer, self.meter, self.options, self.guard)
        self.patcher.wrap(
            "requests.sessions",
            "Session.send",
            self.patcher.hooks_sync("requests.send", SendStep(tracer)),
        )
