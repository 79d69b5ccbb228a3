"""``FastAPIInstrumentor``: every FastAPI (and Starlette) app, or one app at a time."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

from spanwise.core import Instrumentor, Patcher

from ._middleware import TracingMiddleware, TracingSettings
from ._native import NativeTelemetrySwitch
from ._routes import RouteHook

__all__ = ["FastAPIInstrumentor"]


#: The classes whose middleware stack gets our middleware on the outside. FastAPI overrides
#: Starlette's method without calling it, so both are wrapped.
_STACK_BUILDERS = (
    ("starlette.applications", "Starlette.build_middleware_stack"),
    ("fastapi.applications", "FastAPI.build_middleware_stack"),
)


class _AppRecord:
    __slots__ = ("patcher", "settings")

    def __init__(self, patcher: Patcher, settings: TracingSettings) -> None:
        self.patcher = patcher
        self.settings = settings


class FastAPIInstrumentor(Instrumentor):
    """Traces FastAPI and Starlette applications: one SERVER span per request or WebSocket.

    ``FastAPIInstrumentor().instrument(**options)`` covers every app whose middleware stack is
    built afterwards (apps created before the call included, as long as they have not served
    a request yet); ``FastAPIInstrumentor.instrument_app(app, **options)`` covers one app at any
    time. Options: the shared vocabulary (``excluded_urls``, ``capture_request_headers``,
    ``capture_response_headers``, ``sanitize_fields``, ``tracer_provider``, ``meter_provider``)
    plus ``server_request_hook``, ``client_request_hook``, ``client_response_hook`` and
    ``message_spans`` (also ``SPANWISE_FASTAPI_MESSAGE_SPANS``).

    .. versionadded:: 0.1.0
    """

    name = "fastapi"
    distribution = "spanwise-instrumentation-fastapi"

    _apps_lock: ClassVar[threading.Lock] = threading.Lock()

    _settings: TracingSettings | None
    _built: weakref.WeakSet[Any]
    _app_records: weakref.WeakKeyDictionary[Any, _AppRecord]
    _native: NativeTelemetrySwitch
    _routes: RouteHook

    def __new__(cls, *args: Any, **kwargs: Any) -> FastAPIInstrumentor:
        inst: FastAPIInstrumentor = super().__new__(cls)  # type: ignore[assignment]
        with cls._apps_lock:
            if not hasattr(inst, "_routes"):
                inst._settings = None
                inst._built = weakref.WeakSet()
                inst._app_records = weakref.WeakKeyDictionary()
                inst._native = NativeTelemetrySwitch()
                inst._routes = RouteHook(inst.guard)
        return inst

    # -- every app ---------------------------------------------------------------------------

    def _instrument(self) -> None:
        settings = TracingSettings(self.tracer, self.meter, self.options, self.guard, self.patcher)
        self._settings = settings
        wrapper = self._stack_wrapper(settings, None)
        for module, path in _STACK_BUILDERS:
            self.patcher.wrap(module, path, wrapper)
        self._routes.acquire()

    def _uninstrument(self) -> None:
        # Restore the builders first, so no stack rebuilt from here on gets our middleware.
        self.patcher.restore()
        self._settings = None
        self._routes.release()
        for app in list(self._built):
            if app not in self._app_records:
                self._native.restore(app)
            _rebuild(app)
        self._built = weakref.WeakSet()

    def _stack_wrapper(
        self, settings: TracingSettings, only: Any
    ) -> Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]:
        """A wrapper for ``build_middleware_stack`` putting our middleware outermost."""
        guard = self.guard
        built = self._built if only is None else None

        def build_middleware_stack(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            stack = wrapped(*args, **kwargs)
            if not settings.active:
                return stack
            app = instance if only is None else only
            try:
                if isinstance(stack, TracingMiddleware) and stack.settings is settings:
                    return stack
                self._native.suppress(app)
                if built is not None:
                    built.add(app)
                return TracingMiddleware(stack, settings)
            except Exception as exc:  # noqa: BLE001
                guard.report("fastapi.build_middleware_stack", exc)
                return stack

        return build_middleware_stack

    # -- one app -----------------------------------------------------------------------------

    @classmethod
    def instrument_app(cls, app: Any, **options: Any) -> None:
        """Trace *app* (a ``FastAPI`` or ``Starlette`` instance), even one already serving.

        Options are those of :meth:`instrument`, for this app only. Calling it again for the
        same app does nothing; :meth:`uninstrument_app` undoes it.

        .. versionadded:: 0.1.0
        """
        self = cls()
        with cls._apps_lock:
            if app in self._app_records:
                return
            scoped = self.scoped(options)
            if scoped is None:
                return
            try:
                patcher = Patcher(self.guard)
                tracer, meter, resolved = scoped.tracer, scoped.meter, scoped.options
                settings = TracingSettings(tracer, meter, resolved, self.guard, patcher)
                patcher.wrap_object(app, "build_middleware_stack",
                                    self._stack_wrapper(settings, app))  # fmt: skip
            except Exception as exc:  # noqa: BLE001
                self.guard.report("fastapi.instrument_app", exc)
                return
            if not patcher.applied:
                return
            self._app_records[app] = _AppRecord(patcher, settings)
            self._routes.acquire()
            self._native.suppress(app)
            _rebuild(app)

    @classmethod
    def uninstrument_app(cls, app: Any) -> None:
        """Stop tracing *app* (instrumented by :meth:`instrument_app`).

        .. versionadded:: 0.1.0
        """
        self = cls()
        with cls._apps_lock:
            record = self._app_records.pop(app, None)
        if record is None:
            return
        record.patcher.restore()
        self._routes.release()
        if app not in self._built:
            self._native.restore(app)
        _rebuild(app)


def _rebuild(app: Any) -> None:
    """Make *app* build its middleware stack again on its next request (Starlette builds it
    lazily and keeps it); requests in flight finish on the stack they started on."""
    if getattr(app, "middleware_stack", None) is not None:
        app.middleware_stack = None
