"""The public surface of spanwise.instrumentation.django, pinned."""

from __future__ import annotations

import spanwise.instrumentation.django as package


class TestExportedMembers:
    def test_all_is_pinned(self) -> None:
        """``__all__`` lists exactly the public names."""
        assert ["DjangoInstrumentor", "TracingMiddleware"] == package.__all__

    def test_every_exported_name_exists(self) -> None:
        """Every name in ``__all__`` is importable from the package."""
        assert all(hasattr(package, name) for name in package.__all__)
