"""The ASGI middleware that traces each HTTP request and WebSocket connection once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind

from spanwise.core import Guard, HttpServerTracer, Options, Patcher, ServerRequest
from spanwise.core.semconv import asgi_headers, server_span_name

from ._routes import RouteState, current_route

__all__ = ["Message", "Receive", "Scope", "Send", "TracingMiddleware", "TracingSettings"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Close codes of a WebSocket closed on purpose: not an error when the app lets them escape.
_NORMAL_CLOSE = (1000, 1001)
_RESPONSE_START = frozenset({"http.response.start", "websocket.http.response.start"})
_TRACED_SCOPES = frozenset({"http", "websocket"})


class TracingSettings:
    """Everything the middleware needs for one instrumentation (global or one app's).

    Hooks (all guarded, called only for recorded spans):

    - ``server_request_hook(span, scope)`` (alias ``request_hook``) when the span starts;
    - ``client_request_hook(span, scope, message)`` for each message the app receives;
    - ``client_response_hook(span, scope, message)`` (alias ``response_hook``) for each
      message the app sends.
    """

    __slots__ = (
        "client_request_hook",
        "client_response_hook",
        "guard",
        "message_spans",
        "patcher",
        "quiet",
        "server",
        "server_request_hook",
        "tracer",
    )

    def __init__(
        self,
        tracer: trace.Tracer,
        meter: metrics.Meter,
        options: Options,
        guard: Guard,
        patcher: Patcher,
    ) -> None:
        self.tracer = tracer
        self.guard = guard
        self.patcher = patcher
        self.server = HttpServerTracer(tracer, meter, options, guard)
        self.server_request_hook: Callable[..., Any] | None = (
            options.get("server_request_hook", None) or options.request_hook
        )
        self.client_request_hook: Callable[..., Any] | None = options.get(
            "client_request_hook", None
        )
        self.client_response_hook: Callable[..., Any] | None = (
            options.get("client_response_hook", None) or options.response_hook
        )
        self.message_spans = bool(
            options.get("message_spans", False, env="SPANWISE_FASTAPI_MESSAGE_SPANS")
        )
        # Sent messages need nothing but a look at their type: no hook, no message spans.
        self.quiet = self.client_response_hook is None and not self.message_spans

    @property
    def active(self) -> bool:
        """False once the instrumentation that made these settings was undone."""
        return self.patcher.on

    def start(self, scope: Scope, receive: Receive, send: Send) -> _Request | None:
        """Start tracing *scope*, or None when it is excluded (or starting failed)."""
        try:
            server = self.server
            if server.excludes and server.excluded_scope(scope):
                return None
            request = _Request(self, server.start_asgi(scope), scope, receive, send)
        except Exception as exc:  # noqa: BLE001
            self.guard.report("fastapi.start", exc)
            return None
        if request.server.recording and self.server_request_hook is not None:
            self.guard.hook("fastapi.server_request_hook", self.server_request_hook,
                            request.server.span, scope)  # fmt: skip
        return request


class _Request(RouteState):
    """One traced request: wraps ``send`` (and ``receive`` when hooks or spans need it).

    It is its own :class:`RouteState` (what the routers report about the request), one
    object fewer per request.
    """

    __slots__ = (
        "_receive",
        "_send",
        "complete",
        "ended",
        "scope",
        "server",
        "settings",
        "trailers",
    )

    def __init__(
        self,
        settings: TracingSettings,
        server: ServerRequest,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        self.settings = settings
        self.server = server
        self.scope = scope
        self.prefix = ""  # RouteState's fields, set here rather than through its __init__
        self.template = None
        self.mounted = False
        self._receive = receive
        self._send = send
        self.complete = False
        self.ended = False
        self.trailers = False

    # -- what the app is handed ------------------------------------------------------------

    @property
    def receive(self) -> Receive:
        """The app's ``receive``: the server's own unless hooks or message spans need to see it."""
        settings = self.settings
        if self.server.recording and (settings.client_request_hook or settings.message_spans):
            return self._traced_receive
        return self._receive

    async def _traced_receive(self) -> Message:
        span = self._message_span("receive")
        try:
            message = await self._receive()
        finally:
            if span is not None:
                span.end()
        try:
            if span is not None:
                span.set_attribute("asgi.event.type", str(message.get("type")))
            self.settings.guard.hook("fastapi.client_request_hook",
                                     self.settings.client_request_hook,
                                     self.server.span, self.scope, message)  # fmt: skip
        except Exception as exc:  # noqa: BLE001
            self.settings.guard.report("fastapi.receive", exc)
        return message

    async def send(self, message: Message) -> None:
        """The app's ``send``: learns the status and route, ends the span when the response
        is complete; the message reaches the server unchanged."""
        settings = self.settings
        span = None
        try:
            if settings.quiet and message.get("type") == "http.response.body":
                # The most frequent message, with no hook or message span to serve.
                if not message.get("more_body", False) and not self.trailers:
                    self.complete = True
            else:
                self._on_send(message)
                if settings.message_spans:
                    span = self._message_span("send")
        except Exception as exc:  # noqa: BLE001
            settings.guard.report("fastapi.send", exc)
        try:
            await self._send(message)
        finally:
            if span is not None:
                span.end()
        if self.complete and not self.ended:
            # A 5xx may be followed by the exception that caused it: end when the app returns.
            code = self.server.status_code
            if code is None or code < 500:
                self.end()

    def _on_send(self, message: Message) -> None:
        kind = message.get("type")
        server = self.server
        if kind in _RESPONSE_START:
            self._set_route()
            server.set_status_code(message.get("status", 0))
            self.trailers = bool(message.get("trailers", False))
            if server.recording and self.settings.server.options.server_response_headers:
                server.response_headers(asgi_headers(message.get("headers") or ()))
        elif kind == "http.response.body":
            if not message.get("more_body", False) and not self.trailers:
                self.complete = True
        elif kind == "http.response.trailers":
            if not message.get("more_trailers", False):
                self.complete = True
        elif kind == "http.response.pathsend":
            self.complete = True
        elif kind == "websocket.accept":
            self._set_route()
        hook = self.settings.client_response_hook
        if hook is not None and server.recording:
            self.settings.guard.hook("fastapi.client_response_hook", hook, server.span,
                                     self.scope, message)  # fmt: skip

    def _message_span(self, direction: str) -> trace.Span | None:
        if not self.settings.message_spans or not self.server.recording:
            return None
        server = self.server
        name = f"{server_span_name(server.method, server.route)} http {direction}"
        return self.settings.tracer.start_span(
            name, context=trace.set_span_in_context(server.span), kind=SpanKind.INTERNAL
        )

    # -- the end ---------------------------------------------------------------------------

    def _set_route(self) -> None:
        if self.server.route is None:
            self.server.set_route(self.resolve(self.scope))

    def failed(self, exc: BaseException) -> None:
        """The app raised *exc*: record it unless the response was already complete."""
        if self.ended:
            return
        try:
            if not _normal_close(exc):
                self.server.record_exception(exc)
        except Exception as err:  # noqa: BLE001
            self.settings.guard.report("fastapi.exception", err)
        self.end()

    def end(self) -> None:
        """End the span and record the metrics (once)."""
        if self.ended:
            return
        self.ended = True
        try:
            self._set_route()
            self.server.end()
        except Exception as exc:  # noqa: BLE001
            self.settings.guard.report("fastapi.end", exc)


def _normal_close(exc: BaseException) -> bool:
    return type(exc).__name__ == "WebSocketDisconnect" and getattr(exc, "code", None) in (
        _NORMAL_CLOSE
    )


class TracingMiddleware:
    """Traces every ``http`` and ``websocket`` call of the ASGI app it wraps.

    Lifespan events, calls made while another traced request is being served (mounted
    sub-applications, nested instrumentation) and calls after the instrumentation was undone
    pass straight through. The app's messages, results and exceptions are never changed.
    """

    __slots__ = ("app", "settings")

    def __init__(self, app: App, settings: TracingSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = self.settings
        if (
            scope.get("type") not in _TRACED_SCOPES
            or current_route.get() is not None
            or not settings.patcher.on  # settings.active, without the property call
        ):
            await self.app(scope, receive, send)
            return
        request = settings.start(scope, receive, send)
        if request is None:
            await self.app(scope, receive, send)
            return
        token = current_route.set(request)
        request.server.attach()
        try:
            await self.app(scope, request.receive, request.send)
        except BaseException as exc:
            request.failed(exc)
            raise
        else:
            request.end()
        finally:
            request.server.detach()
            try:
                current_route.reset(token)
            except Exception as exc:  # noqa: BLE001
                self.settings.guard.report("fastapi.reset", exc)
