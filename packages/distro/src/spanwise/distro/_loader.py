"""Load every installed Spanwise plugin through the ``spanwise_instrumentor`` entry points."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from spanwise.core import Instrumentor, check_library, disabled_instrumentations

__all__ = ["ENTRY_POINT_GROUP", "PluginStatus", "installed_plugins", "load_instrumentors"]

logger = logging.getLogger("spanwise.distro")

ENTRY_POINT_GROUP = "spanwise_instrumentor"


@dataclass(frozen=True)
class PluginStatus:
    """One plugin's outcome: ``state`` is ``instrumented``, ``inactive`` (its library is
    missing or outside the supported range), ``disabled`` or ``failed``; ``detail`` says why.

    .. versionadded:: 0.1.0
    """

    name: str
    target: str
    distribution: str | None
    state: str
    detail: str = ""


def installed_plugins() -> list[metadata.EntryPoint]:
    """The registered plugins, one per name (the first found on ``sys.path`` wins)."""
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        seen.setdefault(ep.name.lower(), ep)
    return [seen[name] for name in sorted(seen)]


def _distribution(ep: metadata.EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    return None if dist is None else str(dist.metadata["Name"])


def check_plugin(ep: metadata.EntryPoint, environ: Mapping[str, str] | None = None) -> PluginStatus:
    """Whether the plugin *ep* would activate, without importing or instrumenting anything."""
    name = ep.name.lower()
    dist = _distribution(ep)
    disabled = disabled_instrumentations(environ)
    if "*" in disabled or name in disabled:
        return PluginStatus(
            name, ep.value, dist, "disabled", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"
        )
    if dist is not None:
        result = check_library(dist)
        if not result.ok:
            return PluginStatus(name, ep.value, dist, "inactive", "; ".join(result.problems))
    return PluginStatus(name, ep.value, dist, "would activate")


def load_instrumentors(**options: Any) -> list[PluginStatus]:
    """Import and instrument every plugin, honouring ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.

    A plugin that fails to import or to instrument is logged and skipped; the others still
    load. *options* go to every plugin's ``instrument()``.

    .. versionadded:: 0.1.0
    """
    statuses: list[PluginStatus] = []
    disabled = disabled_instrumentations()
    for ep in installed_plugins():
        name = ep.name.lower()
        dist = _distribution(ep)
        if "*" in disabled or name in disabled:
            statuses.append(PluginStatus(name, ep.value, dist, "disabled", "by environment"))
            continue
        try:
            loaded = ep.load()
            if not (isinstance(loaded, type) and issubclass(loaded, Instrumentor)):
                raise TypeError(f"{ep.value} is not a spanwise.core.Instrumentor subclass")
            instance = loaded()
            instance.instrument(**options)
        except Exception as exc:
            logger.warning(
                "spanwise: plugin %r (%s) failed to load and is skipped: %s: %s",
                name,
                ep.value,
                type(exc).__name__,
                exc,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            statuses.append(
                PluginStatus(name, ep.value, dist, "failed", f"{type(exc).__name__}: {exc}")
            )
            continue
        if instance.is_instrumented:
            statuses.append(PluginStatus(name, ep.value, dist, "instrumented"))
        else:
            statuses.append(
                PluginStatus(name, ep.value, dist, "inactive", "library missing or out of range")
            )
    return statuses
