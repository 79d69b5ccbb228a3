"""What one engine contributes to every span: database system, namespace and server."""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["EngineInfo", "db_system", "pool_name"]

#: SQLAlchemy dialect names mapped to ``db.system.name`` values of the semantic conventions.
DIALECT_SYSTEMS = {
    "postgresql": "postgresql",
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mariadb",
    "mssql": "microsoft.sql_server",
    "oracle": "oracle.db",
    "cockroachdb": "cockroachdb",
    "db2": "ibm.db2",
    "ibm_db_sa": "ibm.db2",
    "hana": "sap.hana",
    "sap_hana": "sap.hana",
    "trino": "trino",
    "clickhouse": "clickhouse",
    "h2": "h2database",
    "hsqldb": "hsqldb",
    "firebird": "firebirdsql",
    "informix": "ibm.informix",
    "sybase": "sap.ase",
    "spanner": "gcp.spanner",
    "snowflake": "snowflake",
}
OTHER_SQL = "other_sql"


def db_system(dialect: Any) -> str:
    """The ``db.system.name`` of a SQLAlchemy dialect (``other_sql`` when unknown)."""
    name = str(getattr(dialect, "name", "") or "")
    if name == "mysql" and getattr(dialect, "is_mariadb", False):
        return "mariadb"
    return DIALECT_SYSTEMS.get(name, OTHER_SQL)


def pool_name(pool: Any, info: EngineInfo) -> str:
    """``db.client.connection.pool.name``: the pool's logging name, else ``host:port/database``."""
    name = getattr(pool, "logging_name", None)
    if isinstance(name, str) and name:
        return name
    return info.default_pool_name


class EngineInfo:
    """The attributes an engine gives its statements, computed once per engine.

    The engine is held weakly: :attr:`ref` tells whether an entry keyed by ``id(engine)``
    still describes the same engine.
    """

    __slots__ = ("address", "default_pool_name", "namespace", "port", "ref", "system")

    def __init__(self, engine: Any) -> None:
        self.ref: weakref.ReferenceType[Any] = weakref.ref(engine)
        url = engine.url
        self.system = db_system(engine.dialect)
        database = url.database
        self.namespace: str | None = str(database) if database else None
        host = url.host
        self.address: str | None = str(host) if host else None
        port = url.port
        self.port: int | None = int(port) if port and self.address else None
        if self.address:
            where = self.address if self.port is None else f"{self.address}:{self.port}"
            self.default_pool_name = f"{where}/{self.namespace}" if self.namespace else where
        else:
            self.default_pool_name = self.namespace or self.system
