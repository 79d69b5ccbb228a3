"""One GET /users/<int:uid>/ through Django's WSGI handler in-process (prebuilt environ)."""

from __future__ import annotations

import io
import sys
import types
from collections.abc import Callable
from typing import Any

NAME = "django_get"
CONTRIB = "opentelemetry.instrumentation.django"
HANDMADE = True

_ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/users/42/",
    "QUERY_STRING": "page=2",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "bench/1.0",
    "HTTP_ACCEPT": "*/*",
    "wsgi.url_scheme": "http",
    "wsgi.version": (1, 0),
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "wsgi.errors": sys.stderr,
}


def _configure(middleware: list[str]) -> None:
    import django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import path

    def user(request: Any, uid: int) -> HttpResponse:
        return HttpResponse(f"user {uid}")

    urls = types.ModuleType("bench_django_get_urls")
    urls.urlpatterns = [path("users/<int:uid>/", user)]  # type: ignore[attr-defined]
    sys.modules[urls.__name__] = urls
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=urls.__name__,
        MIDDLEWARE=middleware,
        INSTALLED_APPS=[],
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()


def make(variant: str) -> Callable[[], object]:
    _configure(["_handmade.django_route"] if variant == "handmade" else [])
    if variant == "contrib":
        from opentelemetry.instrumentation.django import DjangoInstrumentor as ContribDjango

        ContribDjango().instrument()
    elif variant == "spanwise":
        from spanwise.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument()
    from django.core.handlers.wsgi import WSGIHandler

    handler: Any = WSGIHandler()
    if variant == "handmade":
        import _handmade

        handler = _handmade.wsgi_middleware(handler)
    empty = b""

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    def op() -> object:
        environ = dict(_ENVIRON)
        environ["wsgi.input"] = io.BytesIO(empty)
        response = handler(environ, start_response)
        try:
            return b"".join(response)
        finally:
            response.close()

    for _ in range(200):
        op()
    return op
