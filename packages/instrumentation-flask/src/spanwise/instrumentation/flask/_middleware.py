"""The step that runs around a Flask app's WSGI entry point: one SERVER span per request."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Generator, Iterable
from types import MethodType
from typing import Any

from spanwise.core import Call, Guard, HttpServerTracer, Patcher, ServerRequest

from ._body import ClosingBody
from ._route import current_environ, current_route

__all__ = [
    "ENVIRON_KEY",
    "HandleExceptionStep",
    "StartResponse",
    "WsgiStep",
    "traced_wsgi_app",
]

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
    """Traces one call of a Flask app's WSGI entry point.

    :meth:`serve` runs the call; the plain functions ``instrument()`` puts in place of
    ``Flask.wsgi_app`` and ``Flask.__call__`` call it directly. The step itself is also a
    wrapt wrapper (``(wrapped, instance, args, kwargs)``) where a wrapper is needed: one app
    traced through ``instrument_app()``, or someone else's wrapper already on the class.

    The span starts before the app sees the request and is current while the view runs; it
    ends when the server closes the response iterable (streamed responses included), or at
    once when the app raises. Every failure of ours is reported through the guard and the
    app's call, result and exception pass through unchanged.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_guard", "_patcher", "_server", "_skipped", "_skipped_any")

    def __init__(
        self,
        server: HttpServerTracer,
        patcher: Patcher,
        skipped: weakref.WeakSet[Any] | None = None,
    ) -> None:
        self._server = server
        self._guard = server.guard
        self._patcher = patcher
        self._skipped: weakref.WeakSet[Any] = weakref.WeakSet() if skipped is None else skipped
        # What tells cheaply whether *skipped* holds any app: the WeakSet's own set of
        # references (its len() is a Python-level call per request), as the redis plugin does.
        self._skipped_any: Any = getattr(self._skipped, "data", self._skipped)

    def __call__(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        if kwargs or len(args) != 2 or not self._patcher.on:
            return wrapped(*args, **kwargs)
        return self.serve(wrapped, instance, args[0], args[1])

    def serve(self, call: Callable[..., Any], app: Any, environ: Any, start_response: Any) -> Any:
        """``call(environ, start_response)``, traced unless excluded or already traced."""
        try:
            started = self._start(app, environ, start_response)
        except Exception as exc:  # noqa: BLE001
            self._guard.report("flask.request", exc)
            started = None
        if started is None:
            return call(environ, start_response)
        request, replaced = started
        try:
            body = call(environ, replaced)
        except BaseException as exc:
            try:
                request.detach()
                if request.error_type is None:  # not already recorded by handle_exception
                    request.record_exception(exc)
                request.end()
            except Exception as own:  # noqa: BLE001
                self._guard.report("flask.request", own)
            raise
        try:
            request.detach()
            return _closing(body, request, environ, self._guard)
        except Exception as exc:  # noqa: BLE001
            self._guard.report("flask.request", exc)
            return body

    def _start(
        self, app: Any, environ: Any, start_response: Any
    ) -> tuple[ServerRequest, StartResponse] | None:
        if (self._skipped_any and app in self._skipped) or ENVIRON_KEY in environ:
            return None
        server = self._server
        if server.excludes and server.excluded_environ(environ):
            return None
        request = server.start_wsgi(environ)
        try:
            environ[ENVIRON_KEY] = request
            options = server.options
            if request.recording and options.request_hook is not None:
                self._guard.hook("flask.request_hook", options.request_hook, request.span,
                                 environ)  # fmt: skip
            replaced = StartResponse(start_response, request, options.response_hook, self._guard)
            request.attach()
        except BaseException:
            request.end()
            raise
        return request, replaced


def traced_wsgi_app(original: Any, step: WsgiStep, patcher: Patcher) -> Callable[..., Any]:
    """A plain function to put in place of ``Flask.wsgi_app`` (*original*): the call traced
    by *step*, with no wrapper object bound per request.
    """

    def wsgi_app(self: Any, environ: Any, start_response: Any) -> Any:
        if not patcher.on:
            return original(self, environ, start_response)
        return step.serve(MethodType(original, self), self, environ, start_response)

    return wsgi_app


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
        return body
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
