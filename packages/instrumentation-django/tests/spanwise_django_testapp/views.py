"""Views covering sync, async, errors, streaming and the user."""

import asyncio
from collections.abc import AsyncIterator, Iterator

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from opentelemetry import trace


def _current_trace() -> dict[str, str]:
    ctx = trace.get_current_span().get_span_context()
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def user_detail(request: HttpRequest, uid: int) -> JsonResponse:
    return JsonResponse({"uid": uid, **_current_trace()})


async def async_user_detail(request: HttpRequest, uid: int) -> JsonResponse:
    await asyncio.sleep(0)
    return JsonResponse({"uid": uid, "async": True, **_current_trace()})


def boom(request: HttpRequest) -> HttpResponse:
    raise ValueError("boom")


async def async_boom(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    raise ValueError("async boom")


def missing(request: HttpRequest) -> HttpResponse:
    raise Http404("no such thing")


def status(request: HttpRequest, code: int) -> HttpResponse:
    return HttpResponse(f"status {code}", status=code)


def headers(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("headers")
    response["X-Custom"] = "custom-value"
    response["X-Secret-Token"] = "hunter2"
    return response


def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"authenticated": request.user.is_authenticated})


def _chunks() -> Iterator[bytes]:
    yield from (b"one,", b"two,", b"three")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_chunks())


async def _achunks() -> AsyncIterator[bytes]:
    for chunk in (b"one,", b"two,", b"three"):
        await asyncio.sleep(0)
        yield chunk


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(_achunks())


def item(request: HttpRequest, name: str) -> HttpResponse:
    return HttpResponse(name)


def legacy(request: HttpRequest, pk: str) -> HttpResponse:
    return HttpResponse(pk)
