"""The one safety layer: instrumentation failures are logged once per site and swallowed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Guard", "logger"]

logger = logging.getLogger("spanwise")

T = TypeVar("T")


class Guard:
    """Catches exceptions raised by instrumentation code or user hooks for one plugin.

    Each failing *site* (a short label such as ``"flask.before_request"``) is logged once, with
    the traceback, naming the plugin; later failures at the same site are counted silently.
    The application's own calls never run inside a guard, so their results and exceptions
    are never touched.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_lock", "_seen", "plugin")

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def failures(self) -> dict[str, int]:
        """How many failures each site has swallowed so far."""
        with self._lock:
            return dict(self._seen)

    def report(self, site: str, exc: BaseException) -> None:
        """Record a swallowed failure at *site*; log it the first time only."""
        try:
            with self._lock:
                count = self._seen.get(site, 0)
                self._seen[site] = count + 1
            if count == 0:
                logger.warning(
                    "spanwise %s: instrumentation error at %s was suppressed; the application "
                    "is unaffected and further errors at this site are not logged",
                    self.plugin,
                    site,
                    exc_info=(type(exc), exc, exc.__traceback__),
                )
        except Exception:  # noqa: BLE001 - logging itself must never break the host
            pass

    def call(self, site: str, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T | None:
        """Run instrumentation code *func*; on failure report it and return ``None``."""
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self.report(site, exc)
            return None

    def hook(self, site: str, hook: Callable[..., Any] | None, /, *args: Any) -> None:
        """Run a user-supplied hook, if any; its failures never reach the application."""
        if hook is None:
            return
        try:
            hook(*args)
        except Exception as exc:  # noqa: BLE001
            self.report(site, exc)
