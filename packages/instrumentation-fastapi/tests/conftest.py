"""Fixtures: a real uvicorn on 127.0.0.1 in a thread, and the instrumentor undone after each test."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, BackgroundTasks, FastAPI, HTTPException, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse
from opentelemetry import trace

from spanwise.core.testing import free_port
from spanwise.instrumentation.fastapi import FastAPIInstrumentor


class Served:
    """A running server: ``url`` and an ``httpx.Client`` bound to it."""

    def __init__(self, url: str, port: int) -> None:
        self.url = url
        self.port = port
        self.client = httpx.Client(base_url=url, timeout=10)


@contextlib.contextmanager
def serve(app: Any) -> Iterator[Served]:
    """Serve *app* with uvicorn (one worker, in a thread) until the block exits."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(400):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.025)
        assert server.started, "uvicorn did not start"
        served = Served(f"http://127.0.0.1:{port}", port)
        try:
            yield served
        finally:
            served.client.close()
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def server() -> Callable[[Any], contextlib.AbstractContextManager[Served]]:
    """``with server(app) as s: s.client.get(...)``: a real uvicorn for *app*."""
    return serve


@pytest.fixture
def instrumentor() -> Iterator[FastAPIInstrumentor]:
    """The instrumentor, guaranteed undone (globally and per app) after the test."""
    inst = FastAPIInstrumentor()
    inst.uninstrument()
    yield inst
    inst.uninstrument()
    for app in list(inst._app_records.keys()):
        FastAPIInstrumentor.uninstrument_app(app)


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll *predicate* until it is truthy (spans end on the server thread after the reply)."""
    deadline = threading.Event()
    waited = 0.0
    while True:
        value = predicate()
        if value or waited >= timeout:
            return value
        deadline.wait(0.01)
        waited += 0.01


def make_app() -> Any:
    """A FastAPI app with every kind of endpoint the tests need."""
    app = FastAPI()
    app.state.background = threading.Event()
    app.state.background_parent = None

    @app.get("/users/{uid}")
    async def user(uid: int) -> dict[str, int]:
        return {"uid": uid}

    @app.get("/sync/{name}")
    def sync_view(name: str) -> dict[str, str]:
        return {"name": name}

    router = APIRouter(prefix="/api")

    @router.get("/items/{iid}")
    async def item(iid: str) -> dict[str, str]:
        return {"iid": iid}

    app.include_router(router)

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("boom")

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(status_code=418, detail="short and stout")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> Any:
            for part in (b"one,", b"two,", b"three"):
                await asyncio.sleep(0.01)
                yield part

        return StreamingResponse(chunks(), media_type="text/plain")

    def background_job() -> None:
        with trace.get_tracer("tests").start_as_current_span("background job") as span:
            app.state.background_parent = span.parent
        app.state.background.set()

    @app.get("/bg")
    async def with_background(tasks: BackgroundTasks) -> dict[str, bool]:
        tasks.add_task(background_job)
        return {"queued": True}

    @app.get("/headers")
    async def headers() -> JSONResponse:
        return JSONResponse({}, headers={"x-resp": "shown", "set-cookie": "sid=secret"})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.websocket("/ws/{room}")
    async def echo(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{room}:{text}")
        await websocket.close()

    return app


@pytest.fixture
def new_app() -> Callable[[], Any]:
    """Builds a fresh test app (see :func:`make_app`)."""
    return make_app


@pytest.fixture
def wait() -> Callable[..., Any]:
    """:func:`wait_for`."""
    return wait_for
