"""``SQLAlchemyInstrumentor``: every engine, or one engine, sync or async."""

from __future__ import annotations

import weakref
from typing import Any, ClassVar

from spanwise.core import Instrumentor

from ._listeners import EngineTracer
from ._pool import PoolUsage

__all__ = ["SQLAlchemyInstrumentor"]


class SQLAlchemyInstrumentor(Instrumentor):
    """Traces every SQL statement SQLAlchemy sends, and measures its pools.

    ``instrument()`` covers every engine, including those created before the call and the
    engines inside ``AsyncEngine`` objects; :meth:`instrument_engine` covers a single engine.
    Plugin options (keyword, else environment variable):

    ``db_query_text`` (``SPANWISE_DB_QUERY_TEXT``)
        ``scrubbed`` (default: literals replaced by ``?``), ``raw`` or ``off``.
    ``enable_commenter`` (``SPANWISE_SQLALCHEMY_COMMENTER``)
        Append ``/*traceparent='…'*/`` to each statement (default ``False``).

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "sqlalchemy"
    distribution: ClassVar[str] = "spanwise-instrumentation-sqlalchemy"

    _global_tracer: EngineTracer | None = None
    _had_events: tuple[Any, Any] | None = None

    # -- every engine ---------------------------------------------------------------------------

    def _instrument(self) -> None:
        from sqlalchemy.engine import Dialect, Engine

        tracer = EngineTracer(self.tracer, self.meter, self.options, self.guard)
        self._had_events = (Engine.__dict__.get("_has_events"), Dialect.__dict__.get("_has_events"))
        try:
            tracer.listen(Engine)
        except Exception:
            tracer.remove(Engine)
            raise
        self._global_tracer = tracer
        PoolUsage.for_meter(self.meter).add(tracer)

    def _uninstrument(self) -> None:
        from sqlalchemy.engine import Dialect, Engine

        tracer, self._global_tracer = self._global_tracer, None
        if tracer is None:
            return
        tracer.remove(Engine)
        PoolUsage.for_meter(self.meter).discard(tracer)
        had = self._had_events
        if had is not None:
            # Listening set ``_has_events`` on the classes; put it back once nothing listens.
            _restore_has_events(Engine, had[0])
            _restore_has_events(Dialect, had[1])

    # -- one engine -----------------------------------------------------------------------------

    def instrument_engine(self, engine: Any, **options: Any) -> None:
        """Trace the statements of *engine* only (an ``Engine`` or an ``AsyncEngine``).

        Takes the same options as :meth:`instrument`. While :meth:`instrument` is in effect
        every engine is traced already and this engine's own listeners stand aside.
        Instrumenting the same engine again does nothing.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            scoped = self.scoped(options)
            if scoped is None:
                return
            try:
                sync_engine = _sync_engine(engine)
            except TypeError as exc:
                self.guard.report("instrument_engine", exc)
                return
            per_engine = self._per_engine()
            key = id(sync_engine)
            found = per_engine.get(key)
            if found is not None and found[0]() is sync_engine:
                return
            try:
                opts = scoped.options
                meter = scoped.meter
                tracer = EngineTracer(
                    scoped.tracer,
                    meter,
                    opts,
                    self.guard,
                    defer_to=self,
                )
                tracer.register(sync_engine)
                tracer.listen(sync_engine)
                usage = PoolUsage.for_meter(meter)
            except Exception as exc:  # noqa: BLE001
                self.guard.report("instrument_engine", exc)
                tracer_remove = locals().get("tracer")
                if isinstance(tracer_remove, EngineTracer):
                    tracer_remove.remove(sync_engine)
                return
            usage.add(tracer)
            per_engine[key] = (weakref.ref(sync_engine), tracer, usage)

    def uninstrument(self) -> None:
        """Remove every listener this plugin added: :meth:`instrument`'s and each engine's."""
        with self._lock:
            super().uninstrument()
            for ref, _, _ in list(self._per_engine().values()):
                engine = ref()
                if engine is not None:
                    self.uninstrument_engine(engine)
            self._per_engine().clear()

    def uninstrument_engine(self, engine: Any) -> None:
        """Undo :meth:`instrument_engine` for *engine*; nothing happens if it was not done.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            try:
                sync_engine = _sync_engine(engine)
            except Exception as exc:  # noqa: BLE001
                self.guard.report("uninstrument_engine", exc)
                return
            found = self._per_engine().pop(id(sync_engine), None)
            if found is None or found[0]() is not sync_engine:
                return
            _, tracer, usage = found
            tracer.remove(sync_engine)
            usage.discard(tracer)

    def _per_engine(self) -> dict[int, tuple[weakref.ReferenceType[Any], EngineTracer, PoolUsage]]:
        # The instance is a singleton whose __init__ runs on every call: keep state out of it.
        table: dict[int, tuple[weakref.ReferenceType[Any], EngineTracer, PoolUsage]] | None
        table = self.__dict__.get("_engine_tracers")
        if table is None:
            table = self.__dict__["_engine_tracers"] = {}
        return table


def _sync_engine(engine: Any) -> Any:
    """The sync ``Engine`` behind *engine* (itself when it is one)."""
    from sqlalchemy.engine import Engine

    if isinstance(engine, Engine):
        return engine
    inner = getattr(engine, "sync_engine", None)
    if isinstance(inner, Engine):
        return inner
    raise TypeError(f"expected a SQLAlchemy Engine or AsyncEngine, got {type(engine).__name__}")


def _restore_has_events(cls: type, before: Any) -> None:
    """Reset ``cls._has_events`` to *before* if no class-level listener is left on *cls*."""
    if before is not False or cls.__dict__.get("_has_events") is not True:
        return
    try:
        dispatch: Any = cls.dispatch  # type: ignore[attr-defined]
        for name in dispatch._event_names:
            for listeners in getattr(dispatch, name)._clslevel.values():
                if len(listeners):
                    return
    except Exception:  # noqa: BLE001 - private structure changed: leave it, it is only slower
        return
    cls._has_events = False  # type: ignore[attr-defined]
