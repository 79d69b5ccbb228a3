"""SQLAlchemyInstrumentor: which engines are traced, sync and async, and clean removal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from opentelemetry import trace
from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import create_async_engine

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

SQLALCHEMY_2 = int(sa.__version__.split(".")[0]) >= 2


def run(engine: sa.Engine, statement: str = "SELECT 1") -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)


def names(telemetry: CapturedTelemetry) -> list[str]:
    return [s.name for s in telemetry.spans()]


def listener_counts() -> tuple[int, int]:
    """Class-level listeners on Engine and on Dialect (SQLAlchemy's own bookkeeping)."""

    def count(cls: type) -> int:
        dispatch: Any = cls.dispatch  # type: ignore[attr-defined]
        return sum(
            len(listeners)
            for name in dispatch._event_names
            for listeners in getattr(dispatch, name)._clslevel.values()
        )

    return count(Engine), count(Dialect)


class TestInstrument:
    def test_engine_created_before(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """An engine created (and used) before instrument() is traced afterwards."""
        engine = sa.create_engine("sqlite://")
        run(engine)
        instrumentor.instrument()
        run(engine, "SELECT 2")
        assert names(telemetry) == ["SELECT"]

    def test_several_engines(
        self, instrumented: SQLAlchemyInstrumentor, tmp_path: Path, telemetry: CapturedTelemetry
    ) -> None:
        """Each engine's spans carry that engine's own attributes."""
        memory = sa.create_engine("sqlite://")
        path = str(tmp_path / "b.db")
        on_disk = sa.create_engine(f"sqlite:///{path}")
        run(memory, "SELECT 1")
        run(on_disk, "SELECT 2")
        run(memory, "SELECT 3")
        assert [(s.attributes or {}).get("db.namespace") for s in telemetry.spans()] == [
            None,
            path,
            None,
        ]
        on_disk.dispose()

    def test_idempotent(
        self, instrumented: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """instrument() twice still gives one span per statement."""
        instrumented.instrument()
        run(sa.create_engine("sqlite://"))
        assert names(telemetry) == ["SELECT"]

    def test_disabled_by_environment(
        self,
        instrumentor: SQLAlchemyInstrumentor,
        telemetry: CapturedTelemetry,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=sqlalchemy: nothing is traced."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "redis,sqlalchemy")
        instrumentor.instrument()
        instrumentor.instrument_engine(engine := sa.create_engine("sqlite://"))
        run(engine)
        assert (instrumentor.is_instrumented, names(telemetry)) == (False, [])

    def test_explicit_providers(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """tracer_provider= sends the spans there instead of the global provider."""
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        instrumentor.instrument(tracer_provider=provider)
        run(sa.create_engine("sqlite://"))
        assert ([s.name for s in exporter.get_finished_spans()], names(telemetry)) == (
            ["SELECT"],
            [],
        )


class TestUninstrument:
    def test_stops_tracing(
        self, instrumented: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """After uninstrument() no span and no duration are recorded."""
        engine = sa.create_engine("sqlite://")
        instrumented.uninstrument()
        run(engine)
        assert (names(telemetry), "db.client.operation.duration" in telemetry.metrics()) == (
            [],
            False,
        )

    @pytest.mark.skipif(not SQLALCHEMY_2, reason="handle_error is a Dialect event since 2.0")
    def test_removes_every_listener(self, instrumentor: SQLAlchemyInstrumentor) -> None:
        """The class-level listeners and the _has_events flags are back as they were."""
        before = (
            listener_counts(),
            Engine.__dict__["_has_events"],
            Dialect.__dict__["_has_events"],
        )
        instrumentor.instrument()
        during = listener_counts()
        instrumentor.uninstrument()
        after = (listener_counts(), Engine.__dict__["_has_events"], Dialect.__dict__["_has_events"])
        assert (before, during != before[0]) == (after, True)
        assert before == ((0, 0), False, False)

    def test_users_own_listener_kept(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """A listener the app added on Engine keeps working after uninstrument()."""
        seen: list[str] = []

        def on_execute(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            seen.append(statement)

        event.listen(Engine, "after_cursor_execute", on_execute)
        try:
            instrumentor.instrument()
            instrumentor.uninstrument()
            run(sa.create_engine("sqlite://"))
        finally:
            event.remove(Engine, "after_cursor_execute", on_execute)
        assert (seen, names(telemetry)) == (["SELECT 1"], [])

    def test_reinstrument(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """instrument(), uninstrument(), instrument(): traced again, once per statement."""
        engine = sa.create_engine("sqlite://")
        instrumentor.instrument()
        instrumentor.uninstrument()
        instrumentor.instrument()
        run(engine)
        assert names(telemetry) == ["SELECT"]


class TestInstrumentEngine:
    def test_only_that_engine(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """instrument_engine(engine) traces that engine and no other."""
        traced = sa.create_engine("sqlite://")
        other = sa.create_engine("sqlite://")
        instrumentor.instrument_engine(traced)
        run(traced, "SELECT 1")
        run(other, "SELECT 2")
        (span,) = telemetry.spans()
        assert ((span.attributes or {}).get("db.query.text"), instrumentor.is_instrumented) == (
            "SELECT ?",
            False,
        )

    def test_twice_and_with_instrument(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """Per-engine plus instrument(), twice over: still one span per statement."""
        engine = sa.create_engine("sqlite://")
        instrumentor.instrument_engine(engine)
        instrumentor.instrument_engine(engine)
        instrumentor.instrument()
        run(engine)
        instrumentor.uninstrument()
        assert names(telemetry) == ["SELECT"]

    def test_engine_keeps_tracing_when_global_removed(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """uninstrument_engine() stops one engine; the other engines are unaffected."""
        engine = sa.create_engine("sqlite://")
        instrumentor.instrument_engine(engine, db_query_text="raw")
        run(engine, "SELECT 'a'")
        instrumentor.uninstrument_engine(engine)
        run(engine, "SELECT 'b'")
        assert [(s.attributes or {}).get("db.query.text") for s in telemetry.spans()] == [
            "SELECT 'a'"
        ]

    def test_uninstrument_removes_engine_listeners(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """uninstrument() also removes what instrument_engine() added."""
        engine = sa.create_engine("sqlite://")
        instrumentor.instrument_engine(engine)
        instrumentor.uninstrument()
        run(engine)
        assert names(telemetry) == []

    def test_not_an_engine(
        self, instrumentor: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """Passing something else is reported through the guard, never raised."""
        instrumentor.instrument_engine(object())
        assert "instrument_engine" in instrumentor.guard.failures

    def test_async_engine(
        self, instrumentor: SQLAlchemyInstrumentor, tmp_path: Path, telemetry: CapturedTelemetry
    ) -> None:
        """An AsyncEngine is accepted as is; its spans join the caller's trace."""
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
        instrumentor.instrument_engine(engine)

        async def main() -> int:
            with trace.get_tracer("test").start_as_current_span("request"):
                async with engine.connect() as conn:
                    value = (await conn.exec_driver_sql("SELECT 41 + 1")).scalar_one()
            await engine.dispose()
            return int(value)

        assert asyncio.run(main()) == 42
        request = telemetry.span("request")
        query = telemetry.span("SELECT")
        assert query.parent is not None
        assert (query.parent.span_id, (query.attributes or {})["db.system.name"]) == (
            request.context.span_id,
            "sqlite",
        )


class TestAsync:
    def test_async_engines_covered_by_instrument(
        self, instrumented: SQLAlchemyInstrumentor, tmp_path: Path, telemetry: CapturedTelemetry
    ) -> None:
        """instrument() covers async engines too, errors included."""
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")

        async def main() -> str:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
                try:
                    await conn.exec_driver_sql("SELECT * FROM missing")
                except sa.exc.OperationalError as exc:
                    return type(exc.orig).__name__
                finally:
                    await engine.dispose()
            return "no error"

        assert asyncio.run(main()) == "OperationalError"
        assert [(s.name, (s.attributes or {}).get("error.type")) for s in telemetry.spans()] == [
            ("SELECT", None),
            ("SELECT missing", "sqlite3.OperationalError"),
        ]


class TestPostgres:
    @pytest.mark.skipif(not SQLALCHEMY_2, reason="the psycopg 3 dialect is SQLAlchemy 2")
    def test_psycopg(
        self,
        instrumented: SQLAlchemyInstrumentor,
        postgres_server: Any,
        telemetry: CapturedTelemetry,
    ) -> None:
        """psycopg 3 on PostgreSQL: server, namespace, scrubbed text, SQLSTATE on errors."""
        engine = sa.create_engine(
            f"postgresql+psycopg://{postgres_server.user}@{postgres_server.host}:"
            f"{postgres_server.port}/{postgres_server.database}"
        )
        telemetry.reset()
        with engine.connect() as conn:
            value = conn.execute(sa.text("SELECT :a + 1"), {"a": 41}).scalar_one()
            with pytest.raises(sa.exc.ProgrammingError):
                conn.exec_driver_sql("SELECT * FROM missing_table WHERE x = 'secret'")
        engine.dispose()
        ok = [s for s in telemetry.spans() if s.name == "SELECT"][-1]
        failed = telemetry.span("SELECT missing_table")
        assert value == 42
        assert {
            k: v for k, v in (ok.attributes or {}).items() if not k.startswith("db.query.")
        } == {
            "db.system.name": "postgresql",
            "db.operation.name": "SELECT",
            "db.namespace": postgres_server.database,
            "server.address": postgres_server.host,
            "server.port": postgres_server.port,
        }
        assert (
            (failed.attributes or {})["db.query.text"],
            (failed.attributes or {})["db.response.status_code"],
            (failed.attributes or {})["error.type"],
        ) == (
            "SELECT * FROM missing_table WHERE x = ?",
            "42P01",
            "psycopg.errors.UndefinedTable",
        )

    @pytest.mark.skipif(not SQLALCHEMY_2, reason="the psycopg 3 dialect is SQLAlchemy 2")
    def test_commenter_reaches_server(
        self,
        instrumentor: SQLAlchemyInstrumentor,
        postgres_server: Any,
        telemetry: CapturedTelemetry,
    ) -> None:
        """With the commenter on, PostgreSQL itself sees the span's traceparent."""
        instrumentor.instrument(enable_commenter=True)
        engine = sa.create_engine(
            f"postgresql+psycopg://{postgres_server.user}@{postgres_server.host}:"
            f"{postgres_server.port}/{postgres_server.database}"
        )
        with engine.connect() as conn:
            seen_by_server = conn.exec_driver_sql("SELECT current_query()").scalar_one()
        engine.dispose()
        span = [s for s in telemetry.spans() if s.name == "SELECT"][-1]
        assert f"-{span.context.span_id:016x}-" in seen_by_server

    def test_asyncpg(
        self,
        instrumented: SQLAlchemyInstrumentor,
        postgres_server: Any,
        telemetry: CapturedTelemetry,
    ) -> None:
        """asyncpg through create_async_engine: traced natively, pool reported."""
        engine = create_async_engine(
            f"postgresql+asyncpg://{postgres_server.user}@{postgres_server.host}:"
            f"{postgres_server.port}/{postgres_server.database}",
            pool_logging_name="pg",
        )

        async def main() -> tuple[int, dict[tuple[str, str], int]]:
            async with engine.connect() as conn:
                value = (await conn.execute(sa.text("SELECT 40 + :b"), {"b": 2})).scalar_one()
                points = telemetry.metrics().get("db.client.connection.count", [])
            await engine.dispose()
            return int(value), {
                (
                    p.attributes["db.client.connection.pool.name"],
                    p.attributes["db.client.connection.state"],
                ): p.value
                for p in points
            }

        value, pool = asyncio.run(main())
        span = [s for s in telemetry.spans() if s.name == "SELECT"][-1]
        assert (value, pool[("pg", "used")]) == (42, 1)
        assert (
            (span.attributes or {})["db.system.name"],
            (span.attributes or {})["server.port"],
        ) == (
            "postgresql",
            postgres_server.port,
        )
