"""``DjangoInstrumentor``: puts :class:`TracingMiddleware` in front of every Django handler."""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator
from typing import Any, ClassVar

from spanwise.core import Call, HttpServerTracer, Instrumentor

from ._middleware import REQUEST_ATTRIBUTE, TracingMiddleware

__all__ = ["DjangoInstrumentor"]

_SIGNAL_UID = "spanwise.instrumentation.django.request_exception"


class DjangoInstrumentor(Instrumentor):
    """Traces every Django request (WSGI and ASGI, sync and async views).

    ``instrument()`` makes each Django handler built afterwards (``get_wsgi_application()``,
    ``get_asgi_application()``, the test ``Client``) run :class:`TracingMiddleware` before
    all of ``settings.MIDDLEWARE``, unless the middleware is already listed there. Call it
    before the application object is created; settings may be configured later.

    Options (keywords, or the environment variables in brackets): ``excluded_urls``
    (``OTEL_PYTHON_DJANGO_EXCLUDED_URLS``, ``OTEL_PYTHON_EXCLUDED_URLS``),
    ``request_hook(span, request)``, ``response_hook(span, request, response)`` (called after
    the view, so ``request.user`` is set), ``capture_request_headers`` /
    ``capture_response_headers`` / ``sanitize_fields`` (the
    ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` variables), ``tracer_provider``,
    ``meter_provider``.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "django"
    distribution: ClassVar[str] = "spanwise-instrumentation-django"

    #: The tracer of the current activation; ``None`` while not instrumented.
    server: HttpServerTracer | None = None
    #: Whether :meth:`instrument` ever took effect in this process.
    ever_instrumented: bool = False

    def _instrument(self) -> None:
        self.server = HttpServerTracer(self.tracer, self.meter, self.options, self.guard)
        self.patcher.wrap(
            "django.core.handlers.base",
            "BaseHandler.load_middleware",
            self.patcher.around_sync("django.load_middleware", self._load_middleware),
        )
        from django.core.signals import got_request_exception

        got_request_exception.connect(
            self._on_request_exception, weak=False, dispatch_uid=_SIGNAL_UID
        )
        self.ever_instrumented = True

    def _uninstrument(self) -> None:
        self.server = None
        signals = sys.modules.get("django.core.signals")
        if signals is not None:
            signals.got_request_exception.disconnect(dispatch_uid=_SIGNAL_UID)

    # -- steps ---------------------------------------------------------------------------------

    def _load_middleware(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[Call, Any, None]:
        yield None
        if _listed_in_settings():
            return
        chain = getattr(instance, "_middleware_chain", None)
        if chain is not None and not isinstance(chain, TracingMiddleware):
            instance._middleware_chain = TracingMiddleware(chain)

    def _on_request_exception(self, sender: Any, request: Any = None, **kwargs: Any) -> None:
        """Django turned an unhandled exception into an error response: record it."""
        try:
            current = getattr(request, REQUEST_ATTRIBUTE, None)
            if current is None or current.error_type is not None:
                return
            exc = sys.exc_info()[1]
            if exc is not None:
                current.record_exception(exc)
        except Exception as error:  # noqa: BLE001
            self.guard.report("django.got_request_exception", error)


def _listed_in_settings() -> bool:
    """Whether ``settings.MIDDLEWARE`` already has :class:`TracingMiddleware` (or a subclass)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    for path in settings.MIDDLEWARE:
        try:
            middleware = import_string(path)
        except ImportError:
            continue
        if isinstance(middleware, type) and issubclass(middleware, TracingMiddleware):
            return True
    return False
