"""What a Django request tells us beyond the WSGI environ or ASGI scope: its route template."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["route_template"]


@lru_cache(maxsize=1024)
def _display(route: str) -> str:
    """A Django URL pattern shown as an absolute path: ``users/<int:uid>/`` to
    ``/users/<int:uid>/``, a regular-expression pattern without its leading ``^``."""
    if route.startswith("^"):
        route = route[1:]
    return route if route.startswith("/") else "/" + route


def route_template(request: Any) -> str | None:
    """The matched URL pattern of *request*, shown with a leading slash; ``None`` when the
    URL resolver did not match (404) or has not run yet."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    route = getattr(match, "route", None)
    if not isinstance(route, str):
        return None
    return _display(route)
