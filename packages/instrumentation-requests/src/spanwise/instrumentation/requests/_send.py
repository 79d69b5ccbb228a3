"""The step that runs around ``requests.Session.send``: one CLIENT span per request sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spanwise.core import ClientRequest, HttpClientTracer
from spanwise.core.context import attach, reset, suppressed, with_span
from spanwise.core.propagation import dict_setter, inject

__all__ = ["SendStep"]

_PROTOCOLS = {9: "0.9", 10: "1.0", 11: "1.1", 20: "2"}


def _protocol(response: Any) -> str | None:
    """``network.protocol.version`` from urllib3's raw response (``11`` → ``"1.1"``)."""
    raw = getattr(response, "raw", None)
    version = getattr(raw, "version", None)
    return _PROTOCOLS.get(version) if isinstance(version, int) else None


class SendStep:
    """Traces one ``Session.send(request, **kwargs)``: :class:`~spanwise.core.Hooks` for
    :meth:`~spanwise.core.Patcher.hooks_sync`.

    The span is started before the request leaves, ``traceparent`` (and whatever else the
    global propagator writes) is added to the prepared request's headers, and the span ends
    when ``send`` returns the response (its headers are in; a streamed body is read later)
    or raises.
    """

    __slots__ = ("_tracer",)

    def __init__(self, tracer: HttpClientTracer) -> None:
        self._tracer = tracer

    def enter(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> _Sending | None:
        request = args[0] if args else kwargs.get("request")
        url = getattr(request, "url", None)
        if request is None or not isinstance(url, str) or suppressed(http=True):
            return None
        tracer = self._tracer
        options = tracer.options
        if options.excluded_urls and tracer.excluded(url):
            return None
        client = tracer.start(str(request.method or "GET"), url)
        try:
            span = client.span
            headers = request.headers
            inject(headers, dict_setter, span=span)
            recording = client.recording
            if recording:
                if options.client_request_headers:
                    client.request_headers(headers.items())
                if options.request_hook is not None:
                    tracer.guard.hook("requests.request_hook", options.request_hook, span,
                                      request)  # fmt: skip
            # Current while sending, so redirects followed inside send() nest under this span.
            token = attach(with_span(span)) if recording else None
        except BaseException:
            client.end()  # the request goes out untraced: no span left open
            raise
        return _Sending(client, request, token)

    def exit(self, state: _Sending, response: Any) -> None:
        tracer = self._tracer
        client = state.client
        try:
            # Redirects followed inside send() return the last hop's response; this span
            # stands for the first request, whose response heads the history.
            history = getattr(response, "history", None)
            if history:
                response = history[0]
            # Status code and protocol in one pass, before the response hook sees the span.
            client.set_response(response.status_code, _protocol(response))
            if client.recording:
                options = tracer.options
                if options.client_response_headers:
                    client.response_headers(response.headers.items())
                if options.response_hook is not None:
                    tracer.guard.hook("requests.response_hook", options.response_hook,
                                      client.span, state.request, response)  # fmt: skip
        finally:
            self._done(state)

    def error(self, state: _Sending, exc: BaseException) -> None:
        try:
            state.client.record_exception(exc)
        finally:
            self._done(state)

    def _done(self, state: _Sending) -> None:
        if state.token is not None:
            try:
                reset(state.token)
            except Exception as exc:  # noqa: BLE001 - never instead of the app's outcome
                self._tracer.guard.report("requests.detach", exc)
        state.client.end()


class _Sending:
    """What :meth:`SendStep.enter` hands the other two: the request's span and context."""

    __slots__ = ("client", "request", "token")

    def __init__(self, client: ClientRequest, request: Any, token: Any) -> None:
        self.client = client
        self.request = request
        self.token = token
