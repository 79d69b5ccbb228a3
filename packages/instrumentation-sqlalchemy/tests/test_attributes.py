"""Engine attributes: database system, namespace, server and pool name."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine
from sqlalchemy.dialects import mssql, mysql, oracle, postgresql, sqlite

from spanwise.instrumentation.sqlalchemy._attributes import EngineInfo, db_system, pool_name


class TestDbSystem:
    @pytest.mark.parametrize(
        ("dialect", "expected"),
        [
            (postgresql.dialect(), "postgresql"),
            (sqlite.dialect(), "sqlite"),
            (mysql.dialect(), "mysql"),
            (mssql.dialect(), "microsoft.sql_server"),
            (oracle.dialect(), "oracle.db"),
        ],
    )
    def test_dialect_names(self, dialect: object, expected: str) -> None:
        """Dialect names map to the semantic-convention system names."""
        assert expected == db_system(dialect)

    def test_mariadb(self) -> None:
        """A MySQL dialect talking to MariaDB is reported as mariadb."""
        dialect = mysql.dialect()
        dialect.is_mariadb = True
        assert db_system(dialect) == "mariadb"

    def test_unknown(self) -> None:
        """An unknown dialect is other_sql."""
        assert db_system(SimpleNamespace(name="exotic")) == "other_sql"


class TestEngineInfo:
    # The URLs name asyncpg, a PostgreSQL dialect SQLAlchemy 1.4 and 2 both ship; nothing connects.
    def test_server_engine(self) -> None:
        """Host, port and database come from the URL; the password never appears."""
        engine = create_engine("postgresql+asyncpg://app:s3cret@db.example:5433/shop")
        info = EngineInfo(engine)
        assert (
            info.system,
            info.namespace,
            info.address,
            info.port,
            info.default_pool_name,
        ) == ("postgresql", "shop", "db.example", 5433, "db.example:5433/shop")
        values = [getattr(info, name) for name in EngineInfo.__slots__ if name != "ref"]
        assert not any("s3cret" in str(value) for value in values)

    def test_default_port_not_set(self) -> None:
        """Without a port in the URL server.port is left out."""
        info = EngineInfo(create_engine("postgresql+asyncpg://db.example/shop"))
        assert (info.port, info.default_pool_name) == (None, "db.example/shop")

    def test_sqlite_file(self, tmp_path: Path) -> None:
        """A SQLite file engine: the file is the namespace, there is no server."""
        path = str(tmp_path / "app.db")
        info = EngineInfo(create_engine(f"sqlite:///{path}"))
        assert ("sqlite", path, None, None, path) == (
            info.system,
            info.namespace,
            info.address,
            info.port,
            info.default_pool_name,
        )

    def test_sqlite_memory(self) -> None:
        """An in-memory SQLite engine has no namespace; its pool is named by the system."""
        info = EngineInfo(create_engine("sqlite://"))
        assert (info.namespace, info.default_pool_name) == (None, "sqlite")

    def test_engine_held_weakly(self) -> None:
        """The info refers to its engine weakly."""
        engine = create_engine("sqlite://")
        info = EngineInfo(engine)
        assert engine is info.ref()


class TestPoolName:
    def test_logging_name_wins(self) -> None:
        """pool_logging_name, when given, names the pool."""
        engine = create_engine("sqlite://", pool_logging_name="main")
        assert pool_name(engine.pool, EngineInfo(engine)) == "main"

    def test_default(self) -> None:
        """Otherwise host:port/database."""
        engine = create_engine("postgresql+asyncpg://db.example:5433/shop")
        assert pool_name(engine.pool, EngineInfo(engine)) == "db.example:5433/shop"
