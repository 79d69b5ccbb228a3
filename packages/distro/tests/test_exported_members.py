"""The public surface of spanwise.distro."""

import spanwise.distro as package


def test_all_is_pinned() -> None:
    """Exactly these names are public."""
    expected = [
        "CATALOG",
        "ENTRY_POINT_GROUP",
        "BatchSettings",
        "CatalogEntry",
        "Configuration",
        "OtlpSettings",
        "PluginStatus",
        "Settings",
        "configure",
        "load_instrumentors",
        "load_settings",
    ]
    assert expected == package.__all__


def test_all_names_exist() -> None:
    """Every name in __all__ is importable."""
    assert all(hasattr(package, name) for name in package.__all__)
