"""db.client.connection.count: idle and used connections, observed from the pools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from spanwise.core.testing import CapturedTelemetry
from spanwise.instrumentation.sqlalchemy import SQLAlchemyInstrumentor


def counts(telemetry: CapturedTelemetry) -> dict[tuple[str, str], int]:
    """{(pool name, state): connections} from the latest collection."""
    points = telemetry.metrics().get("db.client.connection.count", [])
    return {
        (
            p.attributes["db.client.connection.pool.name"],
            p.attributes["db.client.connection.state"],
        ): p.value
        for p in points
    }


@pytest.fixture
def file_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A file SQLite engine: a QueuePool, which keeps counters."""
    eng = sa.create_engine(
        f"sqlite:///{tmp_path / 'pool.db'}",
        poolclass=sa.pool.QueuePool,  # the 2.x default for files; 1.4 used NullPool
        pool_logging_name="files",
    )
    yield eng
    eng.dispose()


class TestPoolUsage:
    def test_used_then_idle(
        self,
        instrumented: SQLAlchemyInstrumentor,
        file_engine: sa.Engine,
        telemetry: CapturedTelemetry,
    ) -> None:
        """A checked-out connection counts as used; back in the pool it counts as idle."""
        with file_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            during = counts(telemetry)
        after = counts(telemetry)
        assert (during, after) == (
            {("files", "idle"): 0, ("files", "used"): 1},
            {("files", "idle"): 1, ("files", "used"): 0},
        )

    def test_several_connections(
        self,
        instrumented: SQLAlchemyInstrumentor,
        file_engine: sa.Engine,
        telemetry: CapturedTelemetry,
    ) -> None:
        """Two connections out, one back: one idle, one used."""
        first = file_engine.connect()
        second = file_engine.connect()
        first.exec_driver_sql("SELECT 1")
        second.exec_driver_sql("SELECT 1")
        first.close()
        try:
            assert counts(telemetry) == {("files", "idle"): 1, ("files", "used"): 1}
        finally:
            second.close()

    def test_pool_without_counters_not_reported(
        self, instrumented: SQLAlchemyInstrumentor, telemetry: CapturedTelemetry
    ) -> None:
        """An in-memory SQLite engine (SingletonThreadPool keeps no counters) reports nothing."""
        eng = sa.create_engine("sqlite://", pool_logging_name="memory")
        with eng.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert not any(name == "memory" for name, _ in counts(telemetry))
        eng.dispose()

    def test_shared_pool_counted_once(
        self,
        instrumented: SQLAlchemyInstrumentor,
        file_engine: sa.Engine,
        telemetry: CapturedTelemetry,
    ) -> None:
        """An engine made by execution_options() shares its parent's pool: counted once."""
        other = file_engine.execution_options(isolation_level="SERIALIZABLE")
        with file_engine.connect() as a, other.connect() as b:
            a.exec_driver_sql("SELECT 1")
            b.exec_driver_sql("SELECT 1")
            assert counts(telemetry)[("files", "used")] == 2

    def test_dispose_follows_new_pool(
        self,
        instrumented: SQLAlchemyInstrumentor,
        file_engine: sa.Engine,
        telemetry: CapturedTelemetry,
    ) -> None:
        """After engine.dispose() the engine's new, empty pool is the one reported."""
        with file_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        file_engine.dispose()
        assert counts(telemetry) == {("files", "idle"): 0, ("files", "used"): 0}

    def test_nothing_after_uninstrument(
        self,
        instrumented: SQLAlchemyInstrumentor,
        file_engine: sa.Engine,
        telemetry: CapturedTelemetry,
    ) -> None:
        """Once uninstrumented, pools are no longer reported."""
        with file_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert counts(telemetry)
        instrumented.uninstrument()
        with file_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        assert counts(telemetry) == {}

    def test_odd_pool_does_not_stop_others(
        self,
        instrumented: SQLAlchemyInstrumentor,
        file_engine: sa.Engine,
        tmp_path: Path,
        telemetry: CapturedTelemetry,
    ) -> None:
        """A pool whose counters fail is skipped; the other pools are still reported."""

        class BrokenPool(sa.pool.QueuePool):
            failing = True

            def checkedout(self) -> Any:
                if BrokenPool.failing:
                    raise RuntimeError("broken counter")
                return super().checkedout()

        broken = sa.create_engine(
            f"sqlite:///{tmp_path / 'broken.db'}", poolclass=BrokenPool, pool_logging_name="broken"
        )
        with broken.connect() as a, file_engine.connect() as b:
            a.exec_driver_sql("SELECT 1")
            b.exec_driver_sql("SELECT 1")
            assert counts(telemetry) == {("files", "idle"): 0, ("files", "used"): 1}
        BrokenPool.failing = False
        broken.dispose()
