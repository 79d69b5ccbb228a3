"""The route template and environ of the request Flask is handling right now."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

__all__ = ["current_environ", "current_route"]

_request: Any = None
_context_var: Any = None
"""Flask's ``_cv_request`` (its request context), or False when this Flask has none."""


def _proxy() -> Any:
    """``flask.request``, imported on first use (importing this plugin never imports Flask)."""
    global _request
    if _request is None:
        from flask import request

        _request = request
    return _request


def _request_var() -> Any:
    """The context variable holding Flask's request context (Flask 2.2+), read directly: the
    ``flask.request`` proxy costs several calls per attribute."""
    global _context_var
    if _context_var is None:
        try:
            from flask import globals as flask_globals
        except ImportError:
            flask_globals = None  # type: ignore[assignment]
        found = getattr(flask_globals, "_cv_request", None)
        _context_var = found if isinstance(found, ContextVar) else False
    return _context_var


def _current_request() -> Any:
    """The request being handled; raises RuntimeError (as the proxy does) outside one."""
    var = _context_var if _context_var is not None else _request_var()
    if var is False:
        return _proxy()
    ctx = var.get(None)
    if ctx is None:
        raise RuntimeError("no request context")
    try:
        return ctx.request
    except AttributeError:  # a Flask whose context is shaped otherwise: ask the proxy
        return _proxy()


def current_route() -> str | None:
    """``request.url_rule.rule`` (``/users/<int:uid>``, blueprint prefix included), or None
    outside a request or when no rule matched (404, 405)."""
    try:
        rule = _current_request().url_rule
    except RuntimeError:  # no request context
        return None
    return None if rule is None else str(rule.rule)


def current_environ() -> dict[str, Any] | None:
    """The WSGI environ of the current request, or None outside a request."""
    try:
        environ: dict[str, Any] = _current_request().environ
    except RuntimeError:
        return None
    return environ
