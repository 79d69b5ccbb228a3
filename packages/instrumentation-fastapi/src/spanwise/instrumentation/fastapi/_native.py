"""FastAPI's own telemetry, turned off for the apps we trace so each request is traced once."""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["NativeTelemetrySwitch"]

#: The settings of ``FastAPI(telemetry=...)`` that would duplicate our server span and metrics.
#: Its logs stay on (they correlate with our span, which is current while the app runs).
_DUPLICATES = ("tracing", "metrics")


class NativeTelemetrySwitch:
    """Turns off FastAPI's built-in server span and metrics per app and puts them back.

    FastAPI versions with built-in OpenTelemetry keep the settings in the app's
    ``_telemetry`` dict, read per request; older versions have none and nothing is changed.
    """

    __slots__ = ("_lock", "_saved")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._saved: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

    def suppress(self, app: Any) -> bool:
        """Turn off *app*'s duplicate telemetry (once); True when there was some to turn off."""
        config = getattr(app, "_telemetry", None)
        if not isinstance(config, dict):
            return False
        with self._lock:
            if app not in self._saved:
                self._saved[app] = {key: config[key] for key in _DUPLICATES if key in config}
            for key in self._saved[app]:
                config[key] = False
        return True

    def restore(self, app: Any) -> None:
        """Put back the settings *app* had before :meth:`suppress`."""
        with self._lock:
            saved = self._saved.pop(app, None)
        config = getattr(app, "_telemetry", None)
        if saved and isinstance(config, dict):
            config.update(saved)

    def restore_all(self) -> None:
        """Put back every app's settings."""
        with self._lock:
            apps = list(self._saved.keys())
        for app in apps:
            self.restore(app)
