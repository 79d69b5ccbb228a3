"""``FlaskInstrumentor``: every Flask app, or one app at a time."""

from __future__ import annotations

import threading
import weakref
from typing import Any, cast

from spanwise.core import HttpServerTracer, Instrumentor, Patcher

from ._entry import entry_point
from ._middleware import HandleExceptionStep, WsgiStep, traced_wsgi_app

__all__ = ["FlaskInstrumentor"]


class FlaskInstrumentor(Instrumentor):
    """Traces Flask requests: one SERVER span ``{METHOD} {route}`` per request.

    :meth:`instrument` patches ``Flask.wsgi_app`` and ``Flask.handle_exception`` on the
    class and puts a plain function in place of ``Flask.__call__``, so every app is traced,
    including apps created before the call and apps whose ``wsgi_app`` was already wrapped by
    middleware.
    :meth:`instrument_app` traces one app instead (its own options); :meth:`uninstrument_app`
    stops tracing one app.

    Options (keyword arguments, or the environment): ``excluded_urls``
    (``OTEL_PYTHON_FLASK_EXCLUDED_URLS``), ``request_hook(span, environ)``,
    ``response_hook(span, status, response_headers)``, ``capture_request_headers``,
    ``capture_response_headers``, ``sanitize_fields``, ``tracer_provider``, ``meter_provider``.

    .. versionadded:: 0.1.0
    """

    name = "flask"
    distribution = "spanwise-instrumentation-flask"

    _apps: weakref.WeakKeyDictionary[Any, Patcher]
    # Apps the class-level patches leave alone: opted out through uninstrument_app(), or
    # traced with their own options by instrument_app().
    _skipped: weakref.WeakSet[Any]
    _apps_lock: threading.Lock

    def __new__(cls, *args: Any, **kwargs: Any) -> FlaskInstrumentor:
        inst = cast("FlaskInstrumentor", super().__new__(cls))
        with cls._singleton_lock:
            if not hasattr(inst, "_apps"):
                inst._apps = weakref.WeakKeyDictionary()
                inst._skipped = weakref.WeakSet()
                inst._apps_lock = threading.Lock()
        return inst

    def _instrument(self) -> None:
        server = HttpServerTracer(self.tracer, self.meter, self.options, self.guard)
        patcher = self.patcher
        step = WsgiStep(server, patcher, self._skipped)
        errors = patcher.around_sync("flask.handle_exception", HandleExceptionStep())
        # wsgi_app is what Flask.__call__ calls, and what code calls directly
        # (DispatcherMiddleware(app.wsgi_app)); __call__ is what servers call, looked up on
        # the class at each request: it traces apps whose wsgi_app middleware captured before
        # instrument(), and passes every other call straight through. Both are plain
        # functions (no wrapper object per request) unless someone else's wrapper is there.
        patcher.replace(
            "flask.app",
            "Flask.wsgi_app",
            lambda original: traced_wsgi_app(original, step, patcher),
            step,
        )
        patcher.wrap("flask.app", "Flask.handle_exception", errors)
        patcher.replace(
            "flask.app",
            "Flask.__call__",
            lambda original: entry_point(original, patcher, step, self._skipped),
            step,
        )

    # -- one app -----------------------------------------------------------------------------

    def instrument_app(self, app: Any, **options: Any) -> None:
        """Trace *app* alone, with its own options (wraps its ``wsgi_app`` attribute).

        Calling it again for the same app does nothing. Takes the same options as
        :meth:`instrument` (and ``force``).

        .. versionadded:: 0.1.0
        """
        with self._apps_lock:
            if app in self._apps:
                return
            scoped = self.scoped(options)
            if scoped is None:
                return
            try:
                server = HttpServerTracer(scoped.tracer, scoped.meter, scoped.options, self.guard)
            except Exception as exc:  # noqa: BLE001
                self.guard.report("instrument_app", exc)
                return
            patcher = Patcher(self.guard)
            patcher.wrap_object(app, "wsgi_app", WsgiStep(server, patcher))
            patcher.wrap_object(
                app,
                "handle_exception",
                patcher.around_sync("flask.handle_exception", HandleExceptionStep()),
            )
            self._apps[app] = patcher
            # The class-level patches of instrument() leave it to its own wrapper.
            self._skipped.add(app)

    def uninstrument_app(self, app: Any) -> None:
        """Stop tracing *app*: undo :meth:`instrument_app` and leave it out of
        :meth:`instrument` until :meth:`instrument_app` is called for it again.

        .. versionadded:: 0.1.0
        """
        with self._apps_lock:
            patcher = self._apps.pop(app, None)
            self._skipped.add(app)
        if patcher is not None:
            patcher.restore()
