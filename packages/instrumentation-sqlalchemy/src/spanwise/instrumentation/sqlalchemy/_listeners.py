"""The engine event listeners: one CLIENT span and one duration per statement execution."""

from __future__ import annotations

import threading
import weakref
from typing import Any

from opentelemetry import metrics, trace

from spanwise.core import DbClientTracer, Guard, Options
from spanwise.core.context import suppressed

from ._attributes import EngineInfo
from ._commenter import add_trace_comment

__all__ = ["COMMENTER_ENV", "EngineTracer"]

#: The attribute that carries a statement's operation from ``before_`` to ``after_cursor_execute``.
_OPERATION = "_spanwise_db_operation"
COMMENTER_ENV = "SPANWISE_SQLALCHEMY_COMMENTER"
_MAX_ENGINES = 4096
_SEQUENCES = (list, tuple)


class EngineTracer:
    """Listeners for ``before_cursor_execute``, ``after_cursor_execute`` and ``handle_error``.

    Listened on the ``Engine`` class they cover every engine, existing ones and async ones
    (an ``AsyncEngine`` runs a sync ``Engine``); listened on one engine they cover just it.
    ``defer_to`` is the instrumentor whose class-wide listeners, while in effect, make this
    engine's own listeners stand aside (so a statement never gets two spans).
    """

    __slots__ = ("__weakref__", "_db", "_defer_to", "_engines", "_guard", "_lock", "commenter")

    def __init__(
        self,
        tracer: trace.Tracer,
        meter: metrics.Meter,
        options: Options,
        guard: Guard,
        defer_to: Any = None,
    ) -> None:
        self._db = DbClientTracer(tracer, meter, options, guard, system="other_sql")
        self._guard = guard
        self._defer_to = defer_to
        self.commenter = bool(options.get("enable_commenter", False, env=COMMENTER_ENV))
        self._engines: dict[int, EngineInfo] = {}
        self._lock = threading.Lock()

    # -- registration ---------------------------------------------------------------------------

    def listen(self, target: Any) -> None:
        """Listen on *target*: the ``Engine`` class or one sync engine."""
        # Imported here: the plugin must import (and report) where SQLAlchemy is not installed.
        from sqlalchemy import event

        event.listen(target, "before_cursor_execute", self.before_cursor_execute, retval=True)
        event.listen(target, "after_cursor_execute", self.after_cursor_execute)
        event.listen(target, "handle_error", self.handle_error)

    def remove(self, target: Any) -> None:
        """Stop listening on *target*; each listener is removed even if another fails."""
        from sqlalchemy import event

        for name, fn in (
            ("before_cursor_execute", self.before_cursor_execute),
            ("after_cursor_execute", self.after_cursor_execute),
            ("handle_error", self.handle_error),
        ):
            try:
                if event.contains(target, name, fn):
                    event.remove(target, name, fn)
            except Exception as exc:  # noqa: BLE001
                self._guard.report(f"sqlalchemy.remove {name}", exc)

    def engines(self) -> list[tuple[Any, EngineInfo]]:
        """The live engines seen so far with their attributes."""
        with self._lock:
            infos = list(self._engines.values())
        found = []
        for info in infos:
            engine = info.ref()
            if engine is not None:
                found.append((engine, info))
        return found

    def register(self, engine: Any) -> EngineInfo:
        """The attributes of *engine*, computed on first sight and kept while it lives."""
        key = id(engine)
        info = EngineInfo(engine)
        with self._lock:
            if len(self._engines) >= _MAX_ENGINES:
                self._engines = {k: v for k, v in self._engines.items() if v.ref() is not None}
            if len(self._engines) < _MAX_ENGINES:
                self._engines[key] = info
                weakref.finalize(engine, self._forget, key, info)
        return info

    def _forget(self, key: int, info: EngineInfo) -> None:
        with self._lock:
            if self._engines.get(key) is info:
                del self._engines[key]

    # -- the listeners (hot path) ---------------------------------------------------------------

    def before_cursor_execute(
        self,
        conn: Any,
        cursor: Any,
        statement: Any,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> tuple[Any, Any]:
        """Start the statement's span; with the commenter on, append its trace context."""
        if context is None or suppressed():
            return statement, parameters
        try:
            defer_to = self._defer_to
            if defer_to is not None and defer_to._instrumented:
                return statement, parameters
            engine = conn.engine
            info = self._engines.get(id(engine))
            if info is None or info.ref() is not engine:
                info = self.register(engine)
            batch = None
            # A list of parameter sets on SQLAlchemy 2, a tuple of them on 1.4.
            if executemany and type(parameters) in _SEQUENCES:
                style = getattr(context, "execute_style", None)
                if style is None or style.name == "EXECUTEMANY":
                    batch = len(parameters)
            ops = context.__dict__
            stale = ops.pop(_OPERATION, None)
            if stale is not None:
                stale.end()
            op = self._db.start_sql(
                statement,
                namespace=info.namespace,
                server_address=info.address,
                server_port=info.port,
                batch_size=batch,
                system=info.system,
            )
            ops[_OPERATION] = op
            if self.commenter and type(statement) is str:
                statement = add_trace_comment(statement, op.span.get_span_context())
        except Exception as exc:  # noqa: BLE001
            self._guard.report("sqlalchemy.before_cursor_execute", exc)
        return statement, parameters

    def after_cursor_execute(
        self,
        conn: Any,
        cursor: Any,
        statement: Any,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        """End the statement's span and record its duration."""
        if context is None:
            return
        try:
            op = context.__dict__.pop(_OPERATION, None)
            if op is not None:
                op.end()
        except Exception as exc:  # noqa: BLE001
            self._guard.report("sqlalchemy.after_cursor_execute", exc)

    def handle_error(self, exception_context: Any) -> None:
        """End the failed statement's span with the error; the exception is left untouched."""
        try:
            context = exception_context.execution_context
            if context is None:
                return
            op = context.__dict__.pop(_OPERATION, None)
            if op is None:
                return
            error = exception_context.original_exception
            op.record_exception(error)
            code = _status_code(error)
            if code is not None:
                op.set_response_status_code(code)
            op.end()
        except Exception as exc:  # noqa: BLE001
            self._guard.report("sqlalchemy.handle_error", exc)


def _status_code(error: Any) -> str | None:
    """The database's own error code: the SQLSTATE of PostgreSQL drivers, SQLite's error name."""
    for attr in ("sqlstate", "pgcode", "sqlite_errorname"):
        value = getattr(error, attr, None)
        if isinstance(value, str) and value:
            return value
    return None
