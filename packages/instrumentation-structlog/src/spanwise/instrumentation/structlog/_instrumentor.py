"""``StructlogInstrumentor``: trace context (and optionally log export) in every structlog chain."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from spanwise.core import Call, Instrumentor

from ._export import LogRecordExporter
from ._processor import add_trace_context

__all__ = ["StructlogInstrumentor"]

# How many processor lists we remember for uninstrument() (one per configure() call).
MAX_CHAINS = 256


class StructlogInstrumentor(Instrumentor):
    """Puts :func:`~spanwise.instrumentation.structlog.add_trace_context` (and, when log
    export is on, a :class:`~spanwise.instrumentation.structlog.LogRecordExporter`) into
    structlog's global processor chain, just before the renderer.

    The current chain is changed in place, so loggers already bound or cached
    (``cache_logger_on_first_use=True``) get the ids too; later ``structlog.configure()``,
    ``configure_once()`` and ``reset_defaults()`` calls get them as well. ``uninstrument()``
    takes them out of every chain it put them in. Chains passed to ``wrap_logger(...,
    processors=...)`` are the application's own and are not touched.

    Options: ``export_logs`` (``SPANWISE_LOGS_EXPORT``, default off) and ``logger_provider``
    (default: the global one).

    .. versionadded:: 0.1.0
    """

    name = "structlog"
    distribution = "spanwise-instrumentation-structlog"

    _ours: tuple[Any, ...] = ()
    _chains: list[tuple[list[Any], Any]]

    def _instrument(self) -> None:
        import structlog  # noqa: F401 - the chain lives in structlog._config

        ours: list[Any] = [add_trace_context]
        if self.options.get("export_logs", False, env="SPANWISE_LOGS_EXPORT"):
            ours.append(LogRecordExporter(self.options.logger_provider))
        self._ours = tuple(ours)
        self._chains = []
        self._adopt(in_place=True)
        after = self.patcher.around_sync("structlog.configure", self._after_configure)
        for module in ("structlog", "structlog._config"):
            for function in ("configure", "reset_defaults"):
                self.patcher.wrap(module, function, after)

    def _uninstrument(self) -> None:
        from structlog import _config

        ours = self._ours
        chains, self._chains = self._chains, []
        for chain, original in chains:
            chain[:] = [p for p in chain if not any(p is o for o in ours)]
            if original is not None and _config._CONFIG.default_processors is chain:
                _config._CONFIG.default_processors = original

    # -- internals --------------------------------------------------------------------------

    def _after_configure(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[Call, Any, None]:
        yield None
        self._adopt(in_place=False)

    def _missing(self, chain: Any) -> list[Any]:
        missing = []
        for processor in self._ours:
            if isinstance(processor, LogRecordExporter):
                present = any(isinstance(p, LogRecordExporter) for p in chain)
            else:
                present = any(p is processor for p in chain)
            if not present:
                missing.append(processor)
        return missing

    def _adopt(self, in_place: bool) -> None:
        """Put our processors into the configured chain, if it lacks them.

        *in_place* (at ``instrument()``) changes the configured list itself so that loggers
        holding it see the change; after ``configure()`` a new list replaces the one the
        application passed, which is left as it was.
        """
        from structlog import _config

        from ._chain import capture_chain, insert_before_renderer

        with self._lock:
            if not self.patcher.on:
                return
            current = _config._CONFIG.default_processors
            chain = list(current)
            missing = self._missing(chain)
            if not missing or capture_chain(chain):
                return
            new = insert_before_renderer(chain, missing)
            if in_place and type(current) is list:
                current[:] = new
                self._track(current, None)
            else:
                _config._CONFIG.default_processors = new
                self._track(new, current)

    def _track(self, chain: list[Any], original: Any) -> None:
        self._chains.append((chain, original))
        if len(self._chains) > MAX_CHAINS:
            del self._chains[0]
