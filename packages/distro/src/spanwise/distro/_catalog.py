"""Which plugin instruments which library, and the versions it supports.

``spanwise-bootstrap`` runs before any plugin is installed, so it cannot read the plugins'
metadata: this table is generated from the ``instruments`` extra of every workspace plugin
(their ``pyproject.toml`` files stay the one place a range is written), and a test fails
when the two drift apart. Regenerate it by pasting what that test prints.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATALOG", "CatalogEntry", "contrib_distribution"]


@dataclass(frozen=True)
class CatalogEntry:
    """A plugin distribution and the requirements of its ``instruments`` extra (empty for a
    plugin of the standard library, which every application can use).

    .. versionadded:: 0.1.0
    """

    distribution: str
    instruments: tuple[str, ...]


# BEGIN GENERATED (from packages/instrumentation-*/pyproject.toml)
CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry("spanwise-instrumentation-celery", ("celery>=5.3,<6",)),
    CatalogEntry("spanwise-instrumentation-confluent-kafka", ("confluent-kafka>=2.6,<3",)),
    CatalogEntry("spanwise-instrumentation-django", ("django>=4.2,<7",)),
    CatalogEntry("spanwise-instrumentation-fastapi", ("fastapi>=0.100,<1",)),
    CatalogEntry("spanwise-instrumentation-flask", ("flask>=2.2,<4",)),
    CatalogEntry("spanwise-instrumentation-logging", ()),
    CatalogEntry("spanwise-instrumentation-redis", ("redis>=4.5,<9",)),
    CatalogEntry("spanwise-instrumentation-requests", ("requests>=2.25,<3",)),
    CatalogEntry("spanwise-instrumentation-sqlalchemy", ("sqlalchemy>=1.4,<2.2",)),
    CatalogEntry("spanwise-instrumentation-structlog", ("structlog>=23.1,<27",)),
)
# END GENERATED


def contrib_distribution(plugin: str) -> str:
    """The opentelemetry-python-contrib plugin for the same library as *plugin*."""
    return "opentelemetry-instrumentation-" + plugin.removeprefix("spanwise-instrumentation-")
