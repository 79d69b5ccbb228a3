"""The public surface of spanwise.instrumentation.fastapi, pinned."""

from __future__ import annotations

import spanwise.instrumentation.fastapi as public


class TestExportedMembers:
    """__all__ is exactly the documented API."""

    def test_all(self) -> None:
        """Only FastAPIInstrumentor is public."""
        assert ["FastAPIInstrumentor"] == sorted(public.__all__)

    def test_every_name_resolves(self) -> None:
        """Every exported name is an attribute of the package."""
        assert all(hasattr(public, name) for name in public.__all__)
