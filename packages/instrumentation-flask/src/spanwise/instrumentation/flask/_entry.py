"""``Flask.__call__``, the entry point servers call, replaced by a plain function."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from types import MethodType
from typing import Any

from spanwise.core import Patcher

from ._middleware import WsgiStep

__all__ = ["entry_point"]


def entry_point(
    original: Any, patcher: Patcher, step: WsgiStep, skipped: weakref.WeakSet[Any]
) -> Callable[..., Any]:
    """A plain function to put in place of *original* (``Flask.__dict__["__call__"]``).

    Flask's own ``__call__`` only calls ``self.wsgi_app``, which is traced on the class, so
    for almost every app this passes the call straight through, with no wrapper object and
    no second trip through the tracing step. It traces the call itself only for an app whose
    ``wsgi_app`` was replaced on the instance (``app.wsgi_app = ProxyFix(app.wsgi_app)``
    before ``instrument()``, which captured the untraced method), unless the app is in
    *skipped*: opted out, or traced with its own options by
    :meth:`~spanwise.instrumentation.flask.FlaskInstrumentor.instrument_app`.
    """

    def __call__(self: Any, environ: Any, start_response: Any) -> Any:
        try:
            own = patcher.on and "wsgi_app" in self.__dict__ and self not in skipped
        except Exception as exc:  # noqa: BLE001 - an odd app object is passed through
            patcher.guard.report("flask.__call__", exc)
            own = False
        if own:
            return step.serve(MethodType(original, self), self, environ, start_response)
        return original(self, environ, start_response)

    return __call__
