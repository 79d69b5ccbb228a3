"""The statement listeners: spans, attributes, errors, batches, metrics and the commenter."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import event

from spanwise.core.context import suppress
from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

SQLALCHEMY_2 = int(sa.__version__.split(".")[0]) >= 2
#: sqlite3 errors carry their error name (``sqlite_errorname``) since Python 3.11.
SQLITE_ERRORNAME = sys.version_info >= (3, 11)
metadata = sa.MetaData()
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50)),
)


@pytest.fixture
def engine() -> Iterator[sa.Engine]:
    """An in-memory SQLite engine with a users table."""
    eng = sa.create_engine("sqlite://")
    metadata.create_all(eng)
    yield eng
    eng.dispose()


def sent_statements(engine: sa.Engine) -> list[str]:
    """What the sqlite3 driver really executes, seen through its own trace callback."""
    seen: list[str] = []

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    engine.dispose()  # new connections get the callback
    metadata.create_all(engine)
    seen.clear()
    return seen


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


class TestStatementSpans:
    def test_one_client_span_per_statement(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """Each execution gives one CLIENT span named by its summary, under the current span."""
        telemetry.reset()
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("parent") as parent, engine.connect() as conn:
            conn.execute(sa.select(users.c.name).where(users.c.id == 7)).all()
            conn.execute(sa.text("SELECT 1")).all()
        spans = [s for s in telemetry.spans() if s.name != "parent"]
        assert [(s.name, s.kind) for s in spans] == [
            ("SELECT users", SpanKind.CLIENT),
            ("SELECT", SpanKind.CLIENT),
        ]
        assert [parent.get_span_context().span_id] * 2 == [
            s.parent.span_id if s.parent else None for s in spans
        ]
        assert attrs(spans[0]) == {
            "db.system.name": "sqlite",
            "db.operation.name": "SELECT",
            "db.collection.name": "users",
            "db.query.summary": "SELECT users",
            "db.query.text": "SELECT users.name FROM users WHERE users.id = ?",
        }

    def test_results_unchanged(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine
    ) -> None:
        """The application gets exactly the rows it asked for."""
        with engine.begin() as conn:
            conn.execute(users.insert(), [{"name": "ann"}, {"name": "bob"}])
            rows = conn.execute(sa.select(users.c.name).order_by(users.c.id)).scalars().all()
        assert rows == ["ann", "bob"]

    def test_literals_scrubbed_by_default(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """String and number literals never reach db.query.text."""
        telemetry.reset()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM users WHERE name = 'bob' AND id = 42")
        assert (
            attrs(telemetry.span("SELECT users"))["db.query.text"]
            == "SELECT * FROM users WHERE name = ? AND id = ?"
        )

    def test_raw_text_opt_in(
        self, instrumentor: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """db_query_text="raw" records the statement as sent."""
        instrumentor.instrument(db_query_text="raw")
        statement = "SELECT * FROM users WHERE name = 'bob'"
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
        assert statement == attrs(telemetry.span("SELECT users"))["db.query.text"]

    def test_text_off(
        self,
        instrumentor: SQLAlchemyInstrumentor,
        engine: sa.Engine,
        telemetry: CapturedTelemetry,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """SPANWISE_DB_QUERY_TEXT=off records no text, the rest stays."""
        monkeypatch.setenv("SPANWISE_DB_QUERY_TEXT", "off")
        instrumentor.instrument()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM users")
        span_attrs = attrs(telemetry.span("SELECT users"))
        assert ("db.query.text" in span_attrs, span_attrs["db.operation.name"]) == (
            False,
            "SELECT",
        )

    def test_unsampled(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """Unsampled: no span is exported, the duration is still measured."""
        telemetry.reset()
        telemetry.sample(False)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM users")
        points = telemetry.metrics()["db.client.operation.duration"]
        assert (telemetry.spans(), sum(p.count for p in points)) == ([], 1)

    def test_suppressed_statements_pass_through(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """Inside suppress(): no span and no duration, the rows unchanged; traced after."""
        telemetry.reset()
        with suppress(), engine.connect() as conn:
            quiet = conn.exec_driver_sql("SELECT 1").scalar()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 2")
        points = telemetry.metrics()["db.client.operation.duration"]
        assert (1, 1, 1) == (quiet, len(telemetry.spans()), sum(p.count for p in points))

    def test_file_database_namespace(
        self, instrumented: SQLAlchemyInstrumentor, tmp_path: Path, telemetry: CapturedTelemetry
    ) -> None:
        """A SQLite file engine reports its file as db.namespace."""
        path = str(tmp_path / "app.db")
        eng = sa.create_engine(f"sqlite:///{path}")
        with eng.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        eng.dispose()
        assert path == attrs(telemetry.span("SELECT"))["db.namespace"]


class TestErrors:
    def test_error_recorded_and_propagated(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """A failing statement: the app's exception unchanged, the span in error with error.type."""
        telemetry.reset()
        with engine.connect() as conn, pytest.raises(sa.exc.OperationalError) as caught:
            conn.exec_driver_sql("SELECT * FROM missing")
        assert "no such table: missing" in str(caught.value)
        span = telemetry.span("SELECT missing")
        assert (
            span.status.status_code,
            attrs(span)["error.type"],
            attrs(span).get("db.response.status_code"),
            [e.name for e in span.events],
        ) == (
            StatusCode.ERROR,
            "sqlite3.OperationalError",
            "SQLITE_ERROR" if SQLITE_ERRORNAME else None,
            ["exception"],
        )
        (point,) = telemetry.metrics()["db.client.operation.duration"]
        assert point.attributes["error.type"] == "sqlite3.OperationalError"

    def test_integrity_error(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """A constraint violation inside a transaction: same exception, span ends in error."""
        with engine.begin() as conn:
            conn.execute(users.insert(), {"id": 1, "name": "a"})
        telemetry.reset()
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(users.insert(), {"id": 1, "name": "b"})
        span = telemetry.span("INSERT users")
        assert attrs(span)["error.type"] == "sqlite3.IntegrityError"

    @pytest.mark.parametrize(
        "statement",
        [
            "",
            "   ",
            "SELECT 'unterminated",
            "/* only a comment",
            "SELECT $$dollar",
            "SELECT \udcff",
            "SELECT '" + "x" * 100_000 + "'",
            "ЗАПРОС таблица",
            "SELECT 1; SELECT 2",
        ],
    )
    def test_odd_sql_behaves_as_without_instrumentation(
        self, instrumentor: SQLAlchemyInstrumentor, statement: str
    ) -> None:
        """Odd statements give the app exactly what it gets uninstrumented."""

        def outcome() -> tuple[str, str]:
            eng = sa.create_engine("sqlite://")
            try:
                with eng.connect() as conn:
                    result = conn.exec_driver_sql(statement)
                    return ("ok", repr(result.all() if result.returns_rows else None))
            except Exception as exc:
                return (type(exc).__name__, str(exc)[:200])
            finally:
                eng.dispose()

        bare = outcome()
        failures = instrumentor.guard.failures
        instrumentor.instrument()
        assert bare == outcome()
        assert instrumentor.guard.failures == failures


class TestBatches:
    def test_executemany_batch_size(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """cursor.executemany() with three parameter sets: db.operation.batch.size = 3."""
        telemetry.reset()
        with engine.begin() as conn:
            conn.execute(users.insert(), [{"name": "a"}, {"name": "b"}, {"name": "c"}])
        span = telemetry.span("INSERT users")
        assert (
            attrs(span)["db.operation.batch.size"],
            attrs(span)["db.query.text"],
        ) == (3, "INSERT INTO users (name) VALUES (?)")

    def test_single_execute_has_no_batch_size(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """A single execution carries no batch size."""
        telemetry.reset()
        with engine.begin() as conn:
            conn.execute(users.insert(), {"name": "a"})
        assert "db.operation.batch.size" not in attrs(telemetry.span("INSERT users"))

    @pytest.mark.skipif(not SQLALCHEMY_2, reason="insertmanyvalues is SQLAlchemy 2")
    def test_insertmanyvalues_is_one_statement(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """INSERT … RETURNING with many rows runs as one multi-VALUES statement: no batch size."""
        telemetry.reset()
        with engine.begin() as conn:
            ids = conn.execute(
                users.insert().returning(users.c.id), [{"name": "a"}, {"name": "b"}]
            ).all()
        span = telemetry.span("INSERT users")
        assert (len(ids), "db.operation.batch.size" in attrs(span)) == (2, False)


class TestDurationMetric:
    def test_one_point_per_statement(
        self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """db.client.operation.duration (s) with system, operation and collection."""
        telemetry.reset()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM users")
            conn.exec_driver_sql("SELECT * FROM users")
        (point,) = telemetry.metrics()["db.client.operation.duration"]
        assert (point.count, dict(point.attributes)) == (2, {
            "db.system.name": "sqlite",
            "db.operation.name": "SELECT",
            "db.collection.name": "users",
        })  # fmt: skip
        assert 0 < point.sum < 10


class TestCommenter:
    def test_off_by_default(self, instrumented: SQLAlchemyInstrumentor, engine: sa.Engine) -> None:
        """Without the option the driver receives the statement untouched."""
        seen = sent_statements(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM users")
        assert [s for s in seen if "users" in s] == ["SELECT * FROM users"]

    def test_appends_span_context(
        self, instrumentor: SQLAlchemyInstrumentor, engine: sa.Engine, telemetry: CapturedTelemetry
    ) -> None:
        """enable_commenter=True: the driver receives the span's traceparent; the span keeps the
        statement without it."""
        instrumentor.instrument(enable_commenter=True)
        seen = sent_statements(engine)
        telemetry.reset()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM users")
        span = telemetry.span("SELECT users")
        ctx = span.context
        expected = (
            f"SELECT * FROM users /*traceparent='00-{ctx.trace_id:032x}-{ctx.span_id:016x}-"
            f"{int(ctx.trace_flags):02x}'*/"
        )
        assert ([expected], "SELECT * FROM users") == (
            [s for s in seen if "users" in s],
            attrs(span)["db.query.text"],
        )

    def test_env_switch(
        self,
        instrumentor: SQLAlchemyInstrumentor,
        engine: sa.Engine,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """SPANWISE_SQLALCHEMY_COMMENTER=true turns it on too."""
        monkeypatch.setenv("SPANWISE_SQLALCHEMY_COMMENTER", "true")
        instrumentor.instrument()
        seen = sent_statements(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT * FROM users")
        assert ["traceparent" in s for s in seen if "users" in s] == [True]
