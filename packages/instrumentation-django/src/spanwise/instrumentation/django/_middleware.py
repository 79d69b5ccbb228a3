"""The Django middleware that traces each request, for WSGI and ASGI, sync and async."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._attributes import route_template

if TYPE_CHECKING:
    from spanwise.core import ServerRequest

    from ._instrumentor import DjangoInstrumentor

__all__ = ["REQUEST_ATTRIBUTE", "TracingMiddleware"]

#: The attribute of a Django request holding its :class:`~spanwise.core.ServerRequest`.
REQUEST_ATTRIBUTE = "_spanwise_server_request"


def _is_async(func: Any) -> bool:
    try:
        from asgiref.sync import iscoroutinefunction

        return bool(iscoroutinefunction(func))
    except ImportError:  # pragma: no cover - asgiref always ships with Django
        return inspect.iscoroutinefunction(func)


class TracingMiddleware:
    """One SERVER span per request, named ``{METHOD} {route}`` after the matched URL pattern.

    Put ``"spanwise.instrumentation.django.TracingMiddleware"`` first in ``MIDDLEWARE``, or let
    :class:`~spanwise.instrumentation.django.DjangoInstrumentor` (or the
    ``"spanwise.instrumentation.django"`` app) place it in front of every middleware for you.
    It works in both of Django's modes: synchronous under WSGI and asynchronous under ASGI.
    While the instrumentor is not instrumented it passes every request straight through.

    .. versionadded:: 0.1.0
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        from ._instrumentor import DjangoInstrumentor

        self.get_response = get_response
        self._instrumentor: DjangoInstrumentor = DjangoInstrumentor()
        self._async = _is_async(get_response)
        if self._async:
            from asgiref.sync import markcoroutinefunction

            markcoroutinefunction(self)
        # Placed in MIDDLEWARE by hand without an explicit instrument(): instrument now, with
        # the options from the environment. After an explicit uninstrument() it stays off.
        if not self._instrumentor.ever_instrumented:
            self._instrumentor.instrument()

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self.__acall__(request)
        current = self._start(request)
        if current is None:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except BaseException as exc:
            self._fail(current, request, exc)
            raise
        self._finish(current, request, response)
        return response

    async def __acall__(self, request: Any) -> Any:
        current = self._start(request)
        if current is None:
            return await self.get_response(request)
        try:
            response = await self.get_response(request)
        except BaseException as exc:
            self._fail(current, request, exc)
            raise
        self._finish(current, request, response)
        return response

    # -- instrumentation steps: each one guarded, none ever raises into Django ----------------

    def _start(self, request: Any) -> ServerRequest | None:
        inst = self._instrumentor
        server = inst.server
        if server is None:
            return None
        try:
            scope = getattr(request, "scope", None)
            if isinstance(scope, dict):
                if server.excludes and server.excluded_scope(scope):
                    return None
                current = server.start_asgi(scope)
            else:
                meta = request.META
                if server.excludes and server.excluded_environ(meta):
                    return None
                current = server.start_wsgi(meta)
        except Exception as exc:  # noqa: BLE001
            inst.guard.report("django.start", exc)
            return None
        try:
            current.attach()
            setattr(request, REQUEST_ATTRIBUTE, current)
            hook = inst.options.request_hook
            if hook is not None and current.recording:
                inst.guard.hook("django.request_hook", hook, current.span, request)
        except Exception as exc:  # noqa: BLE001
            inst.guard.report("django.start", exc)
        return current

    def _finish(self, current: ServerRequest, request: Any, response: Any) -> None:
        inst = self._instrumentor
        ends_later = False
        try:
            current.set_route(route_template(request))
            current.set_status_code(response.status_code)
            if inst.options.server_response_headers and current.recording:
                current.response_headers(response.items())
            hook = inst.options.response_hook
            if hook is not None and current.recording:
                inst.guard.hook("django.response_hook", hook, current.span, request, response)
            if getattr(response, "streaming", False):
                # Streaming bodies are produced after we return: end the span when the
                # server closes the response, as Django closes its own file resources.
                closers = getattr(response, "_resource_closers", None)
                if isinstance(closers, list):
                    closers.append(current.end)
                    ends_later = True
        except Exception as exc:  # noqa: BLE001
            inst.guard.report("django.finish", exc)
        current.detach()
        if not ends_later:
            current.end()

    def _fail(self, current: ServerRequest, request: Any, exc: BaseException) -> None:
        """An exception left Django's handler (``DEBUG_PROPAGATE_EXCEPTIONS``, or raised
        outside Django's own exception handling)."""
        try:
            current.set_route(route_template(request))
            if current.error_type is None:
                current.record_exception(exc)
        except Exception as error:  # noqa: BLE001
            self._instrumentor.guard.report("django.fail", error)
        current.detach()
        current.end()
