"""One GET /users/{uid} through a FastAPI app's ASGI callable, in-process (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

NAME = "fastapi_get"
CONTRIB = "opentelemetry.instrumentation.fastapi"
HANDMADE = True

_loop: asyncio.AbstractEventLoop | None = None


def _app() -> Any:
    from fastapi import FastAPI

    try:
        # FastAPI's own telemetry off in every variant, so "bare" is bare and nothing doubles.
        app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})
    except TypeError:  # FastAPI versions without built-in telemetry
        app = FastAPI()

    @app.get("/users/{uid}")
    async def user(uid: int) -> dict[str, int]:
        return {"uid": uid}

    return app


def make(variant: str) -> Callable[[], object]:
    global _loop
    app = _app()
    if variant == "contrib":
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor as Contrib

        Contrib.instrument_app(app)
    elif variant == "spanwise":
        from spanwise.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app)
    elif variant == "handmade":
        import _handmade

        app = _handmade.asgi_middleware(app)
    elif variant != "bare":
        raise ValueError(f"unknown variant {variant!r}")

    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"bench/1.0"),
        (b"accept", b"*/*"),
    ]
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: Any) -> None:
        return None

    async def once() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/users/42",
            "raw_path": b"/users/42",
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)

    loop = _loop = asyncio.new_event_loop()
    run = loop.run_until_complete

    def call() -> object:
        return run(once())

    for _ in range(200):
        call()
    return call


def teardown() -> None:
    global _loop
    if _loop is not None:
        _loop.close()
        _loop = None
