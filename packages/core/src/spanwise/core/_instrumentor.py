"""The base every Spanwise plugin extends."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar

from opentelemetry import metrics, trace

from ._config import Options, disabled_instrumentations
from ._guard import Guard, logger
from ._patching import Patcher
from ._versions import check_library

__all__ = ["SCHEMA_URL", "Instrumentor", "Scoped"]

#: The semantic-conventions schema our telemetry follows.
SCHEMA_URL = "https://opentelemetry.io/schemas/1.30.0"


@dataclass(frozen=True)
class Scoped:
    """Options resolved for one instrumented object, with a tracer and a meter honouring them.

    .. versionadded:: 0.1.0
    """

    options: Options
    tracer: trace.Tracer
    meter: metrics.Meter


class Instrumentor:
    """Base class of every plugin: one instance per class, idempotent and thread-safe.

    Subclasses set :attr:`name` (the name used by ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``
    and ``OTEL_PYTHON_<NAME>_*`` variables) and :attr:`distribution` (whose ``instruments``
    extra declares the supported library range), and implement :meth:`_instrument`, patching
    only through :attr:`patcher` so that :meth:`uninstrument` restores the exact originals.

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = ""
    distribution: ClassVar[str] = ""

    _singletons: ClassVar[dict[type[Instrumentor], Instrumentor]] = {}
    _singleton_lock: ClassVar[threading.Lock] = threading.Lock()

    options: Options
    guard: Guard
    patcher: Patcher

    def __new__(cls, *args: Any, **kwargs: Any) -> Instrumentor:
        with cls._singleton_lock:
            inst = cls._singletons.get(cls)
            if inst is None:
                inst = super().__new__(cls)
                inst._lock = threading.RLock()
                inst._instrumented = False
                inst._version_warned = False
                inst.guard = Guard(cls.name or cls.__name__)
                inst.patcher = Patcher(inst.guard, on=False)
                inst.options = Options(name=cls.name)
                inst._tracer = None
                inst._meter = None
                cls._singletons[cls] = inst
            return inst

    _lock: threading.RLock
    _instrumented: bool
    _version_warned: bool
    _tracer: trace.Tracer | None
    _meter: metrics.Meter | None

    # -- public API -------------------------------------------------------------------------

    @property
    def is_instrumented(self) -> bool:
        """Whether :meth:`instrument` is in effect."""
        return self._instrumented

    def instrument(self, **options: Any) -> None:
        """Patch the library. Calling it again while instrumented does nothing.

        Options: ``tracer_provider``, ``meter_provider`` (default: the global ones, resolved
        lazily), ``force`` (instrument outside the supported version range), and the shared
        vocabulary of :class:`~spanwise.core.Options` plus the plugin's own options.
        """
        with self._lock:
            if self._instrumented:
                return
            if self._disabled():
                logger.info(
                    "spanwise %s: disabled by %s",
                    self.name,
                    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
                )
                return
            force = bool(options.pop("force", False))
            if not force and not self._version_ok():
                return
            try:
                self.options = Options.build(self.name, options)
            except Exception as exc:  # noqa: BLE001
                self.guard.report("options", exc)
                return
            self._tracer = None
            self._meter = None
            self.patcher = Patcher(self.guard)
            try:
                self._instrument()
            except Exception as exc:  # noqa: BLE001
                self.guard.report("instrument", exc)
                self.patcher.restore()
                return
            self._instrumented = True

    def uninstrument(self) -> None:
        """Restore every original. Calling it when not instrumented does nothing."""
        with self._lock:
            if not self._instrumented:
                return
            try:
                self._uninstrument()
            except Exception as exc:  # noqa: BLE001
                self.guard.report("uninstrument", exc)
            self.patcher.restore()
            self._instrumented = False

    # -- for subclasses ---------------------------------------------------------------------

    @property
    def scope_name(self) -> str:
        """The instrumentation scope: the plugin's import name."""
        module = type(self).__module__
        parts = module.split(".")
        return ".".join(parts[:3]) if module.startswith("spanwise.instrumentation.") else module

    @property
    def version(self) -> str:
        """The plugin distribution's version (``0.0.0`` when not installed)."""
        try:
            return metadata.version(self.distribution) if self.distribution else "0.0.0"
        except metadata.PackageNotFoundError:
            return "0.0.0"

    @property
    def tracer(self) -> trace.Tracer:
        """This plugin's tracer (a proxy until the SDK is configured, then the real one)."""
        tracer = self._tracer
        if tracer is None:
            tracer = self._tracer = self._make_tracer(self.options.tracer_provider)
        return tracer

    @property
    def meter(self) -> metrics.Meter:
        """This plugin's meter (a proxy until the SDK is configured, then the real one)."""
        meter = self._meter
        if meter is None:
            meter = self._meter = self._make_meter(self.options.meter_provider)
        return meter

    def scoped(self, options: dict[str, Any]) -> Scoped | None:
        """For instrumenting one object (an app, an engine, a client) with its own options,
        outside :meth:`instrument`: ``None`` when the kill switch or the version guard says
        no (``force=True`` in *options* overrides the guard; it is removed from them), else the
        resolved options with a tracer and a meter for them. Never raises.

        .. versionadded:: 0.1.0
        """
        if self._disabled():
            return None
        if not options.pop("force", False) and not self._version_ok():
            return None
        try:
            resolved = Options.build(self.name, options)
            return Scoped(
                resolved,
                self._make_tracer(resolved.tracer_provider),
                self._make_meter(resolved.meter_provider),
            )
        except Exception as exc:  # noqa: BLE001
            self.guard.report("options", exc)
            return None

    def _make_tracer(self, provider: Any) -> trace.Tracer:
        return trace.get_tracer(
            self.scope_name, self.version, tracer_provider=provider, schema_url=SCHEMA_URL
        )

    def _make_meter(self, provider: Any) -> metrics.Meter:
        return metrics.get_meter(
            self.scope_name, self.version, meter_provider=provider, schema_url=SCHEMA_URL
        )

    def _instrument(self) -> None:
        raise NotImplementedError

    def _uninstrument(self) -> None:
        """Undo anything not done through :attr:`patcher` (patches are restored for you)."""

    # -- internals --------------------------------------------------------------------------

    def _disabled(self) -> bool:
        names = disabled_instrumentations()
        return bool(names) and ("*" in names or self.name.lower() in names)

    def _version_ok(self) -> bool:
        if not self.distribution:
            return True
        result = check_library(self.distribution)
        if result.ok:
            return True
        missing = all(version is None for _, version in result.installed)
        if not getattr(self, "_version_warned", False):
            self._version_warned = True
            log = logger.info if missing else logger.warning
            log(
                "spanwise %s: not instrumenting: %s (pass force=True to instrument anyway)",
                self.name,
                "; ".join(result.problems),
            )
        return False
