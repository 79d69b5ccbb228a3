"""One SQLAlchemy Core `SELECT 1` on an open connection to an in-memory SQLite engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "sqlalchemy_select"
CONTRIB = "opentelemetry.instrumentation.sqlalchemy"
HANDMADE = True

_connection: Any = None
_engine: Any = None


def _contrib() -> None:
    """Instrument with contrib, or raise if contrib does not support this SQLAlchemy."""
    from importlib.metadata import version

    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor as Contrib
    from opentelemetry.instrumentation.sqlalchemy.package import _instruments
    from packaging.requirements import Requirement

    installed = version("sqlalchemy")
    for line in _instruments:
        requirement = Requirement(line)
        if not requirement.specifier.contains(installed, prereleases=True):
            raise RuntimeError(
                f"opentelemetry-instrumentation-sqlalchemy supports {requirement}; "
                f"SQLAlchemy {installed} is installed"
            )
    Contrib().instrument()


def make(variant: str) -> Callable[[], object]:
    global _connection, _engine
    import sqlalchemy as sa

    if variant == "contrib":
        _contrib()
    elif variant == "spanwise":
        from spanwise.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument()
    elif variant not in ("bare", "handmade"):
        raise ValueError(f"unknown variant {variant!r}")
    _engine = sa.create_engine("sqlite://")
    _connection = _engine.connect()
    statement = sa.text("SELECT 1")
    conn = _connection

    def op() -> object:
        return conn.execute(statement).scalar_one()

    if variant == "handmade":
        op = _by_hand(conn, statement)
    for _ in range(500):
        op()
    return op


def _by_hand(conn: Any, statement: Any) -> Callable[[], object]:
    """The same span and metric point as Spanwise's, written at the call site."""
    import _handmade
    from opentelemetry.trace import SpanKind

    tracer = _handmade.tracer()
    duration = _handmade.histogram("db.client.operation.duration", _handmade.DB_BUCKETS)
    metric_attrs = {"db.system.name": "sqlite", "db.operation.name": "SELECT"}
    span_attrs = {**metric_attrs, "db.query.summary": "SELECT", "db.query.text": "SELECT ?"}
    execute, perf_counter = conn.execute, _handmade.perf_counter

    def op() -> object:
        span = tracer.start_span("SELECT", kind=SpanKind.CLIENT, attributes=span_attrs)
        start = perf_counter()
        try:
            return execute(statement).scalar_one()
        finally:
            span.end()
            duration.record(perf_counter() - start, metric_attrs)

    return op


def teardown() -> None:
    global _connection, _engine
    if _connection is not None:
        _connection.close()
        _connection = None
    if _engine is not None:
        _engine.dispose()
        _engine = None
