"""The public surface of spanwise.instrumentation.sqlalchemy, pinned."""

from __future__ import annotations

import spanwise.instrumentation.sqlalchemy as plugin


class TestExportedMembers:
    def test_all(self) -> None:
        """The package exports exactly these names."""
        assert sorted(plugin.__all__) == ["SQLAlchemyInstrumentor"]

    def test_every_name_resolves(self) -> None:
        """Every exported name exists."""
        for name in plugin.__all__:
            assert hasattr(plugin, name), name
