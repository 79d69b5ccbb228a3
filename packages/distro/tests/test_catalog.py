"""The shipped plugin table matches the plugins' own pyproject files (one source of truth)."""

from __future__ import annotations

from pathlib import Path

import tomllib
from packaging.requirements import Requirement

from spanwise.distro import CATALOG, CatalogEntry
from spanwise.distro._catalog import contrib_distribution

PACKAGES = Path(__file__).resolve().parents[2]


def generated() -> tuple[CatalogEntry, ...]:
    entries = []
    for pyproject in sorted(PACKAGES.glob("instrumentation-*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        extras = project.get("optional-dependencies", {})
        entries.append(CatalogEntry(project["name"], tuple(extras.get("instruments", ()))))
    return tuple(sorted(entries, key=lambda e: e.distribution))


def render(entries: tuple[CatalogEntry, ...]) -> str:
    lines = ["CATALOG: tuple[CatalogEntry, ...] = ("]
    for e in entries:
        reqs = "".join(f"{r!r}, " for r in e.instruments).rstrip(" ")
        lines.append(f"    CatalogEntry({e.distribution!r}, ({reqs})),".replace("'", '"'))
    return "\n".join([*lines, ")"])


class TestCatalog:
    def test_matches_the_workspace_plugins(self) -> None:
        """Fails when a plugin's instruments extra changes without regenerating the table."""
        expected = generated()
        assert expected == CATALOG, "regenerate _catalog.py with:\n" + render(expected)

    def test_requirements_parse(self) -> None:
        """Every range is a valid requirement with a specifier."""
        for entry in CATALOG:
            for line in entry.instruments:
                assert str(Requirement(line).specifier)

    def test_contrib_name(self) -> None:
        """The contrib plugin for the same library."""
        assert "opentelemetry-instrumentation-confluent-kafka" == contrib_distribution(
            "spanwise-instrumentation-confluent-kafka"
        )
