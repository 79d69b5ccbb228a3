"""The step that runs around a Flask app's WSGI entry point: one SERVER span per request."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator, Iterable
from typing import Any

from spanwise.core import Call, Guard, HttpServerTracer, ServerRequest

from ._body import ClosingBody
from ._route import current_environ, current_route

__all__ = ["ENVIRON_KEY", "HandleExceptionStep", "StartResponse", "WsgiStep"]

#: Where the request's :class:`~spanwise.core.ServerRequest` is kept in the WSGI environ, so
#: the exception handler finds it and nested entry points (``Flask.__call__`` then
#: ``Flask.wsgi_app``, or an app instrumented twice) trace the request once.
ENVIRON_KEY = "spanwise.flask.request"


class StartResponse:
    """Stands in for the server's ``start_response``: notes status, route and headers, then
    calls the server's own with exactly the arguments it was given."""

    __slots__ = ("_guard", "_hook", "_request", "_start_response")

    def __init__(
        self,
        start_response: Callable[..., Any],
        request: ServerRequest,
        hook: Callable[..., Any] | None,
        guard: Guard,
    ) -> None:
        self._start_response = start_response
        self._request = request
        self._hook = hook
        self._guard = guard

    def __call__(self, status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
        try:
            request = self._request
            request.set_status_code(int(status[:3]))
            # Flask calls start_response with the request context still pushed: the matched
            # rule is known here, whichever way the response was produced.
            request.set_route(current_route())
            if request.recording:
                request.response_headers(headers)
                self._guard.hook("flask.response_hook", self._hook, request.span, status, headers)
        except Exception as exc:  # noqa: BLE001
            self._guard.report("flask.start_response", exc)
        return self._start_response(status, headers, *exc_info)


class WsgiStep:
    """Traces one call of a Flask app's WSGI entry point; an :data:`~spanwise.core.Around` step.

    The span starts before the app sees the request and is current while the view runs; it
    ends when the server closes the response iterable (streamed responses included), or at
    once when the app raises.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_server", "_skipped")

    def __init__(
        self, server: HttpServerTracer, skipped: weakref.WeakSet[Any] | None = None
    ) -> None:
        self._server = server
        self._skipped = skipped

    def __call__(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[Call, Any, Any]:
        skipped = self._skipped
        if kwargs or len(args) != 2 or (skipped and instance in skipped):
            yield None
            return None
        environ, start_response = args
        if ENVIRON_KEY in environ:
            yield None
            return None
        server = self._server
        if server.excludes and server.excluded_environ(environ):
            yield None
            return None
        request = server.start_wsgi(environ)
        environ[ENVIRON_KEY] = request
        options = server.options
        if request.recording and options.request_hook is not None:
            server.guard.hook("flask.request_hook", options.request_hook, request.span, environ)
        replaced = StartResponse(start_response, request, options.response_hook, server.guard)
        request.attach()
        try:
            body = yield ((environ, replaced), {})
        except BaseException as exc:
            request.detach()
            if request.error_type is None:  # not already recorded by handle_exception
                request.record_exception(exc)
            request.end()
            raise
        request.detach()
        return _closing(body, request, environ, server.guard)


def _closing(
    body: Iterable[bytes], request: ServerRequest, environ: dict[str, Any], guard: Guard
) -> Any:
    """The iterable to return: *body* wrapped so that closing it ends the span.

    A ``wsgi.file_wrapper`` body is returned as it is, so the server can still ``sendfile``
    it; its span ends now (the app's work is done, the kernel sends the file).
    """
    file_wrapper = environ.get("wsgi.file_wrapper")
    if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
        request.end()
        return None
    return ClosingBody(body, request, guard)


class HandleExceptionStep:
    """Around ``Flask.handle_exception(e)``: records the unhandled exception on the span.

    Flask turns it into a 500 response (or re-raises it when ``PROPAGATE_EXCEPTIONS``); either
    way the app's result is untouched.
    """

    __slots__ = ()

    def __call__(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[Call, Any, None]:
        exc = args[0] if args else kwargs.get("e")
        request = _current_request()
        if request is not None and isinstance(exc, BaseException) and request.error_type is None:
            request.record_exception(exc)
        yield None


def _current_request() -> ServerRequest | None:
    environ = current_environ()
    found = None if environ is None else environ.get(ENVIRON_KEY)
    return found if isinstance(found, ServerRequest) else None
