"""spanwise-distro: configure the OpenTelemetry SDK and auto-instrument applications."""

from ._catalog import CATALOG, CatalogEntry
from ._configure import Configuration, configure
from ._loader import ENTRY_POINT_GROUP, PluginStatus, load_instrumentors
from ._settings import BatchSettings, OtlpSettings, Settings, load_settings

__all__ = [
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
