"""The public surface of spanwise.instrumentation.requests."""

import spanwise.instrumentation.requests as package


def test_all_is_pinned() -> None:
    """Exactly these names are public."""
    assert ["RequestsInstrumentor"] == package.__all__


def test_all_names_exist() -> None:
    """Every name in __all__ is importable."""
    assert all(hasattr(package, name) for name in package.__all__)
