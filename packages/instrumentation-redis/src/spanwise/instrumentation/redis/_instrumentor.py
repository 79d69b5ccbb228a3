"""``RedisInstrumentor``: every redis-py client, or just one."""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Generator
from typing import Any, ClassVar

from spanwise.core import DbClientTracer, Guard, Instrumentor, Patcher, Wrapper

from ._tracing import RedisSteps

__all__ = ["RedisInstrumentor"]


# (module, "Class.method", kind): methods, not classes, so clients made before instrument()
# are covered. Pipelines override execute_command (it only queues), so nothing doubles up.
_TARGETS = (
    ("redis.client", "Redis.execute_command", "command"),
    ("redis.client", "Pipeline.immediate_execute_command", "command"),
    ("redis.client", "Pipeline.execute", "pipeline"),
    ("redis.cluster", "RedisCluster.execute_command", "command"),
    ("redis.cluster", "ClusterPipeline.execute", "pipeline"),
    ("redis.asyncio.client", "Redis.execute_command", "async command"),
    ("redis.asyncio.client", "Pipeline.immediate_execute_command", "async command"),
    ("redis.asyncio.client", "Pipeline.execute", "async pipeline"),
    ("redis.asyncio.cluster", "RedisCluster.execute_command", "async command"),
    ("redis.asyncio.cluster", "ClusterPipeline.execute", "async pipeline"),
)


def _wrappers(patcher: Patcher, steps: RedisSteps, site: str) -> dict[str, Wrapper]:
    return {
        "command": patcher.hooks_sync(f"{site}.command", steps.command),
        "pipeline": patcher.hooks_sync(f"{site}.pipeline", steps.pipeline),
        "async command": patcher.hooks_async(f"{site}.command", steps.command),
        "async pipeline": patcher.hooks_async(f"{site}.pipeline", steps.pipeline),
    }


class _PipelineFactory:
    """Step around an instrumented client's ``pipeline()``: its pipelines are traced too."""

    __slots__ = ("guard", "marked", "wrappers")

    def __init__(self, guard: Guard, wrappers: dict[str, Wrapper], marked: Any) -> None:
        self.guard = guard
        self.wrappers = wrappers
        self.marked = marked

    def __call__(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[None, Any, None]:
        pipe = yield None
        if not hasattr(pipe, "__dict__"):  # a slotted pipeline class cannot be wrapped per instance
            return
        prefix = "async " if inspect.iscoroutinefunction(getattr(pipe, "execute", None)) else ""
        # The wrappers come from the client's patcher, so they pass through once the client
        # is uninstrumented; this patcher only lives as long as the pipeline does.
        patcher = Patcher(self.guard)
        patcher.wrap_object(pipe, "execute", self.wrappers[prefix + "pipeline"])
        if hasattr(pipe, "immediate_execute_command"):
            patcher.wrap_object(
                pipe, "immediate_execute_command", self.wrappers[prefix + "command"]
            )
        self.marked.add(pipe)


class RedisInstrumentor(Instrumentor):
    """Traces redis-py commands and pipelines: sync, asyncio and cluster clients.

    ``instrument()`` covers every client, made before or after the call;
    :meth:`instrument_client` covers one client (and the pipelines it makes).

    Options (keyword, or environment variable):

    - ``db_query_text`` (``SPANWISE_DB_QUERY_TEXT``): ``scrubbed`` (default: command and keys,
      every value as ``?``), ``raw`` (values too; never ``AUTH``/``HELLO`` arguments) or ``off``.
    - ``request_hook(span, client, args, kwargs)`` and ``response_hook(span, client, result)``,
      called for recording spans only; their failures never reach the application.

    .. versionadded:: 0.1.0
    """

    name = "redis"
    distribution = "spanwise-instrumentation-redis"

    # Clients and pipelines traced by their own instance-level wrappers (instrument_client).
    _marked: ClassVar[weakref.WeakSet[Any]] = weakref.WeakSet()
    _client_patchers: ClassVar[dict[int, Patcher]] = {}

    def _instrument(self) -> None:
        db = DbClientTracer(self.tracer, self.meter, self.options, self.guard, system="redis")
        wrappers = _wrappers(
            self.patcher, RedisSteps(db, self.options, self.guard, self._marked), "redis"
        )
        for module, path, kind in _TARGETS:
            self.patcher.wrap(module, path, wrappers[kind])

    def instrument_client(self, client: Any, **options: Any) -> None:
        """Trace only *client*: any redis-py client, sync, asyncio or cluster.

        Takes the same options as :meth:`instrument`. Pipelines the client makes afterwards
        are traced too. Calling it again for the same client does nothing; undo it with
        :meth:`uninstrument_client` (the instrumentor keeps the client alive until then).

        .. versionadded:: 0.1.0
        """
        with self._lock:
            if id(client) in self._client_patchers:
                return
            scoped = self.scoped(options)
            if scoped is None:
                return
            patcher = Patcher(self.guard)
            try:
                tracer, meter, opts = scoped.tracer, scoped.meter, scoped.options
                db = DbClientTracer(tracer, meter, opts, self.guard, system="redis")
                wrappers = _wrappers(patcher, RedisSteps(db, opts, self.guard), "redis.client")
                prefix = "async " if inspect.iscoroutinefunction(client.execute_command) else ""
                patcher.wrap_object(client, "execute_command", wrappers[prefix + "command"])
                if patcher.applied and hasattr(client, "pipeline"):
                    factory = _PipelineFactory(self.guard, wrappers, self._marked)
                    patcher.wrap_object(
                        client, "pipeline", patcher.around_sync("redis.client.pipeline", factory)
                    )
            except Exception as exc:  # noqa: BLE001
                self.guard.report("instrument_client", exc)
                patcher.restore()
                return
            if not patcher.applied:
                return
            self._client_patchers[id(client)] = patcher
            self._marked.add(client)

    def uninstrument_client(self, client: Any) -> None:
        """Stop tracing a client given to :meth:`instrument_client`; others are unaffected.

        .. versionadded:: 0.1.0
        """
        with self._lock:
            patcher = self._client_patchers.pop(id(client), None)
            if patcher is None:
                return
            patcher.restore()
            self._marked.discard(client)
