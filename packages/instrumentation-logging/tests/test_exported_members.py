"""The public surface of spanwise.instrumentation.logging."""

import spanwise.instrumentation.logging as package


def test_all_is_pinned() -> None:
    """Exactly these names are public."""
    expected = [
        "DEFAULT_FORMAT",
        "FIELDS",
        "RECORD_DEFAULTS",
        "LogRecordHandler",
        "LoggingInstrumentor",
    ]
    assert expected == package.__all__


def test_all_names_exist() -> None:
    """Every name in __all__ is importable."""
    assert all(hasattr(package, name) for name in package.__all__)
