"""TracingMiddleware and TracingSettings, driven with ASGI messages in one event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.trace import StatusCode
from starlette.websockets import WebSocketDisconnect

from spanwise.core import Guard, Options, Patcher
from spanwise.instrumentation.fastapi._middleware import TracingMiddleware, TracingSettings


def settings(**options: Any) -> TracingSettings:
    guard = Guard("test")
    return TracingSettings(
        trace.get_tracer("test"),
        metrics.get_meter("test"),
        Options.build("fastapi", options),
        guard,
        Patcher(guard),
    )


def scope(kind: str = "http", path: str = "/x") -> dict[str, Any]:
    return {"type": kind, "method": "GET", "path": path, "headers": [], "scheme": "http"}


def run(app: Any, the_scope: dict[str, Any]) -> list[Any]:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(app(the_scope, receive, send))
    return sent


START = {"type": "http.response.start", "status": 200, "headers": []}
BODY = {"type": "http.response.body", "body": b"ok"}


class TestTracingMiddleware:
    """Pass-through rules, span end rules, and untouched messages."""

    def test_messages_reach_the_server_unchanged(self, telemetry) -> None:
        """The exact message objects the app sends are handed to the server's send."""

        async def app(s: Any, receive: Any, send: Any) -> None:
            await send(START)
            await send(BODY)

        sent = run(TracingMiddleware(app, settings()), scope())
        assert [START, BODY] == sent
        assert sent[0] is START
        assert ["GET"] == [s.name for s in telemetry.spans()]

    def test_lifespan_passes_through(self, telemetry) -> None:
        """Lifespan scopes get the server's own receive and send and no span."""
        seen: list[Any] = []

        async def app(s: Any, receive: Any, send: Any) -> None:
            seen.append(send)

        run(TracingMiddleware(app, settings()), scope("lifespan"))
        assert ([], "send") == (telemetry.spans(), seen[0].__name__)

    def test_nested_middlewares_trace_once(self, telemetry) -> None:
        """A traced request passing a second middleware gets no second span."""

        async def app(s: Any, receive: Any, send: Any) -> None:
            await send(START)
            await send(BODY)

        run(TracingMiddleware(TracingMiddleware(app, settings()), settings()), scope())
        assert 1 == len(telemetry.spans())

    def test_inactive_settings_pass_through(self, telemetry) -> None:
        """After the instrumentation is undone the middleware only forwards."""
        config = settings()
        config.patcher.restore()

        async def app(s: Any, receive: Any, send: Any) -> None:
            await send(START)
            await send(BODY)

        assert [START, BODY] == run(TracingMiddleware(app, config), scope())
        assert [] == telemetry.spans()

    def test_error_after_complete_response_is_not_recorded(self, telemetry) -> None:
        """An exception after a complete 200 (a background task) leaves the span as it was."""

        async def app(s: Any, receive: Any, send: Any) -> None:
            await send(START)
            await send(BODY)
            raise RuntimeError("background")

        with pytest.raises(RuntimeError, match="background"):
            run(TracingMiddleware(app, settings()), scope())
        span = telemetry.spans()[0]
        assert (StatusCode.UNSET, []) == (span.status.status_code, list(span.events))

    def test_exception_after_500_response_is_recorded(self, telemetry) -> None:
        """A 500 followed by the exception that caused it records the exception type."""

        async def app(s: Any, receive: Any, send: Any) -> None:
            await send({**START, "status": 500})
            await send(BODY)
            raise KeyError("k")

        with pytest.raises(KeyError):
            run(TracingMiddleware(app, settings()), scope())
        span = telemetry.spans()[0]
        assert ("KeyError", ["exception"]) == (
            span.attributes["error.type"],
            [e.name for e in span.events],
        )

    def test_span_ends_after_the_last_trailers(self, telemetry) -> None:
        """With trailers the span ends at the last trailers message, not the body."""
        ended_after_body: list[int] = []

        async def app(s: Any, receive: Any, send: Any) -> None:
            await send({**START, "trailers": True})
            await send(BODY)
            ended_after_body.append(len(telemetry.spans()))
            await send({"type": "http.response.trailers", "headers": []})

        run(TracingMiddleware(app, settings()), scope())
        assert ([0], 1) == (ended_after_body, len(telemetry.spans()))

    def test_normal_websocket_close_is_not_an_error(self, telemetry) -> None:
        """WebSocketDisconnect(1000) escaping the app is not recorded as an error."""

        async def app(s: Any, receive: Any, send: Any) -> None:
            await send({"type": "websocket.accept"})
            raise WebSocketDisconnect(1000)

        with pytest.raises(WebSocketDisconnect):
            run(TracingMiddleware(app, settings()), scope("websocket"))
        assert StatusCode.UNSET == telemetry.spans()[0].status.status_code

    def test_failed_start_still_serves(self, telemetry) -> None:
        """An instrumentation failure at start is reported and the app is called normally."""
        config = settings()
        config.server = None  # type: ignore[assignment]

        async def app(s: Any, receive: Any, send: Any) -> None:
            await send(START)
            await send(BODY)

        assert [START, BODY] == run(TracingMiddleware(app, config), scope())
        assert {"fastapi.start": 1} == config.guard.failures


class TestTracingSettings:
    """Options read into settings."""

    def test_hook_aliases(self) -> None:
        """request_hook and response_hook stand for the server request and response hooks."""

        def request_hook(*a: Any) -> None: ...
        def response_hook(*a: Any) -> None: ...

        config = settings(request_hook=request_hook, response_hook=response_hook)
        assert (request_hook, response_hook) == (
            config.server_request_hook,
            config.client_response_hook,
        )

    def test_message_spans_from_environment(self, monkeypatch) -> None:
        """SPANWISE_FASTAPI_MESSAGE_SPANS turns message spans on."""
        monkeypatch.setenv("SPANWISE_FASTAPI_MESSAGE_SPANS", "true")
        assert (True, False) == (
            settings().message_spans,
            settings(message_spans=False).message_spans,
        )
