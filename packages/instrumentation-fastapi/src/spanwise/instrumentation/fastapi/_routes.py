"""The matched route template of the request being served, learned when the router picks it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from importlib import metadata
from typing import Any

from spanwise.core import Guard, Patcher

__all__ = ["RouteHook", "RouteState", "current_route", "route_path"]

_MOUNT_SUFFIX = "/{path}"
#: The first FastAPI with the route-selection callback (its built-in telemetry).
_FIRST_WITH_CALLBACK = (0, 142)


class RouteState:
    """What the routers told us about one request: the mount prefix and the template so far.

    FastAPI's router reports every selection (routes, included routers with their prefixes,
    mounts) at match time; plain Starlette routers only leave ``scope["route"]``.
    """

    __slots__ = ("mounted", "prefix", "template")

    def __init__(self) -> None:
        self.prefix = ""
        self.template: str | None = None
        self.mounted = False

    def selected(self, path: str | None, mount: bool) -> None:
        """The router matched *path* (a template); *mount* when it is a mount's."""
        if not path:
            return
        if mount:
            if path.endswith(_MOUNT_SUFFIX):
                path = path[: -len(_MOUNT_SUFFIX)]
            self.prefix += path
            self.template = self.prefix + _MOUNT_SUFFIX
            self.mounted = True
        else:
            self.template = self.prefix + path
            self.mounted = False

    def resolve(self, scope: Mapping[str, Any]) -> str | None:
        """The route template: reported by the router, else the route left in the scope.

        After a mount whose application is not a FastAPI router, the route that application's
        router left in the scope is appended to the mount prefix.
        """
        template = self.template
        if template is not None and not self.mounted:
            return template
        inner = route_path(scope.get("route"))
        if inner is None or (self.mounted and inner.endswith(_MOUNT_SUFFIX)):
            return template
        return self.prefix + inner if self.mounted else inner


def route_path(route: Any) -> str | None:
    """The template of a Starlette route object (``path_format`` drops ``:int`` convertors)."""
    if route is None:
        return None
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) and path else None


#: The state of the request the current task is serving (None outside a traced request).
current_route: ContextVar[RouteState | None] = ContextVar("spanwise_fastapi_route", default=None)


class RouteHook:
    """Wraps FastAPI's route-selection callback while at least one user needs it.

    ``instrument()`` and every ``instrument_app()`` acquire it; the last release restores the
    original. Versions of FastAPI without the callback (before 0.142) are not patched and fall
    back to ``scope["route"]``.
    """

    module = "fastapi.routing"
    attribute = "_route_selected"

    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        self._lock = threading.Lock()
        self._users = 0
        self._patcher: Patcher | None = None

    def acquire(self) -> None:
        """One more user; the first applies the patch (now or when FastAPI is imported)."""
        with self._lock:
            self._users += 1
            if self._users == 1 and self._has_callback():
                patcher = self._patcher = Patcher(self._guard)
                patcher.replace(
                    self.module,
                    self.attribute,
                    lambda original: self._replacement(original, patcher),
                    self._wrapper,
                )

    def release(self) -> None:
        """One user fewer; the last restores the original."""
        with self._lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0 and self._patcher is not None:
                self._patcher.restore()
                self._patcher = None

    def _has_callback(self) -> bool:
        """Whether this FastAPI has the callback, asked without importing FastAPI."""
        module = sys.modules.get(self.module)
        if module is not None:
            return hasattr(module, self.attribute)
        try:
            major, minor = metadata.version("fastapi").split(".")[:2]
            return (int(major), int(minor)) >= _FIRST_WITH_CALLBACK
        except metadata.PackageNotFoundError:
            return False
        except Exception as exc:  # noqa: BLE001
            self._guard.report("fastapi.route_callback_version", exc)
            return False

    def _replacement(self, original: Any, patcher: Patcher) -> Callable[..., Any]:
        """A plain function in place of FastAPI's callback (no wrapper object per request):
        notes the selection, then calls the original with the router's own arguments
        (someone else's wrapper there is wrapped with :meth:`_wrapper` instead)."""
        guard = self._guard

        def route_selected(*args: Any, **kwargs: Any) -> Any:
            state = current_route.get()
            if state is not None and patcher.on:
                try:
                    state.selected(kwargs.get("path"), bool(kwargs.get("mount", False)))
                except Exception as exc:  # noqa: BLE001
                    guard.report("fastapi.route_selected", exc)
            return original(*args, **kwargs)

        return route_selected

    def _wrapper(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        # Called on the matched route only: the template costs nothing per route in the table.
        state = current_route.get()
        if state is not None:
            try:
                state.selected(kwargs.get("path"), bool(kwargs.get("mount", False)))
            except Exception as exc:  # noqa: BLE001
                self._guard.report("fastapi.route_selected", exc)
        return wrapped(*args, **kwargs)
