"""The route template and environ of the request Flask is handling right now."""

from __future__ import annotations

from typing import Any

__all__ = ["current_environ", "current_route"]

_request: Any = None


def _proxy() -> Any:
    """``flask.request``, imported on first use (importing this plugin never imports Flask)."""
    global _request
    if _request is None:
        from flask import request

        _request = request
    return _request


def current_route() -> str | None:
    """``request.url_rule.rule`` (``/users/<int:uid>``, blueprint prefix included), or None
    outside a request or when no rule matched (404, 405)."""
    try:
        rule = _proxy().url_rule
    except RuntimeError:  # no request context
        return None
    return None if rule is None else str(rule.rule)


def current_environ() -> dict[str, Any] | None:
    """The WSGI environ of the current request, or None outside a request."""
    try:
        environ: dict[str, Any] = _proxy().environ
    except RuntimeError:
        return None
    return environ
