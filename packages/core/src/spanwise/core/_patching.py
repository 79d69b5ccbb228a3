"""Patching through wrapt, recorded so that ``uninstrument()`` restores the exact originals."""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any, Optional, Protocol

import wrapt

from ._guard import Guard

__all__ = ["Around", "Call", "Hooks", "Patcher", "Wrapper"]

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
"""The one wrapper signature used everywhere: ``(wrapped, instance, args, kwargs)``."""

Call = Optional[tuple[tuple[Any, ...], dict[str, Any]]]  # noqa: UP045 - a runtime alias on 3.10
"""What an :data:`Around` step yields: ``None`` to call with the app's own arguments, or
``(args, kwargs)`` to call with replacements (for example headers with trace context added)."""

Around = Callable[
    [Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Generator[Call, Any, Any]
]
"""A generator function that runs around one call of the wrapped callable.

It yields exactly once: the wrapped callable runs at the ``yield``. The value sent back is the
call's result; if the call raised, the exception is thrown in at the ``yield``. Whatever the
step returns, if not ``None``, replaces the result (for example a response wrapped so that the
span ends when streaming ends). Everything before and after the ``yield`` is instrumentation
code and runs under the plugin's :class:`~spanwise.core.Guard`.
"""


class Hooks(Protocol):
    """A step in three parts, for the hottest client calls: no generator per call.

    :meth:`enter` runs before the call and returns the state the other two get, or ``None``
    to let the call through untraced; it may change mutable arguments in place (headers).
    Then exactly one of :meth:`exit` (with the call's result; a value other than ``None``
    replaces it) or :meth:`error` (with the exception, which the caller then gets unchanged)
    runs. All three run under the plugin's :class:`~spanwise.core.Guard`.

    .. versionadded:: 0.1.0
    """

    def enter(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any: ...

    def exit(self, state: Any, result: Any) -> Any: ...

    def error(self, state: Any, exc: BaseException) -> None: ...


_MISSING = object()


@dataclass
class _Record:
    owner: Any
    attribute: str
    original: Any
    own: bool
    handle: Any


@dataclass
class _Pending:
    module: str
    path: str
    cancelled: bool = False


@dataclass
class Patcher:
    """Applies and records the patches of one instrumentor activation.

    ``on`` is checked by every wrapper made here: once :meth:`restore` has run, a wrapper that
    someone kept a reference to passes calls straight through.

    .. versionadded:: 0.1.0
    """

    guard: Guard
    on: bool = True
    _records: list[_Record] = field(default_factory=list)
    _pending: list[_Pending] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- applying ---------------------------------------------------------------------------

    def wrap(self, module: str, path: str, wrapper: Wrapper) -> None:
        """Wrap ``module.path`` (``"Class.method"`` or ``"function"``) with *wrapper*.

        If *module* is not imported yet, the patch is applied when it is (post-import hook).
        A path that does not resolve is reported through the guard and skipped.
        """
        self._defer(module, path, lambda target: self._apply(target, path, wrapper))

    def wrap_object(self, owner: Any, attribute: str, wrapper: Wrapper) -> None:
        """Wrap ``owner.attribute`` where *owner* is a live class, module or instance."""
        self._apply(owner, attribute, wrapper)

    def replace(
        self,
        module: str,
        path: str,
        make: Callable[[Any], Callable[..., Any]],
        fallback: Wrapper,
    ) -> None:
        """Put ``make(original)`` in place of ``module.path``, without a wrapper object.

        For the hottest entry points (``Flask.__call__``, ``Logger.makeRecord``): a plain
        function in a class binds like the original, where a wrapt wrapper costs a bound
        wrapper object and two extra calls each time. *original* is what the class itself
        holds (its ``vars()`` entry) or, if inherited, what the attribute resolves to. The
        function *make* builds must call it with the caller's own arguments and pass calls
        straight through once :attr:`on` is false (someone may have wrapped it since).

        *make* is only called with a plain function, and what it returns is given the
        original's name, docstring and ``__wrapped__`` (so ``inspect.signature`` is the
        same). Anything else there (someone else's wrapper), or a ``TypeError`` from *make*,
        and the attribute is wrapped with *fallback* as :meth:`wrap` would.

        Deferred until *module* is imported, like :meth:`wrap`; :meth:`restore` puts
        *original* back exactly (or removes the attribute, if it was inherited).

        .. versionadded:: 0.1.0
        """
        self._defer(module, path, lambda target: self._replace(target, path, make, fallback))

    def around(self, site: str, step: Around) -> Wrapper:
        """Build a guarded wrapper from an :data:`Around` step (sync or async target).

        The returned wrapper decides per call whether the target is a coroutine function.
        """
        sync = self._around_sync(site, step)
        asynchronous = self._around_async(site, step)

        def wrapper(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if _is_async(wrapped):
                return asynchronous(wrapped, instance, args, kwargs)
            return sync(wrapped, instance, args, kwargs)

        return wrapper

    def around_sync(self, site: str, step: Around) -> Wrapper:
        """Like :meth:`around` for a target known to be synchronous (one check fewer per call)."""
        return self._around_sync(site, step)

    def around_async(self, site: str, step: Around) -> Wrapper:
        """Like :meth:`around` for a target known to be a coroutine function."""
        return self._around_async(site, step)

    def hooks_sync(self, site: str, hooks: Hooks) -> Wrapper:
        """A guarded wrapper running :class:`Hooks` around a synchronous target.

        Cheaper than an :data:`Around` step (no generator made, resumed and stopped per
        call), for the calls made most often: an HTTP client's send, a Redis command.

        .. versionadded:: 0.1.0
        """
        guard = self.guard
        enter, leave, failed = hooks.enter, hooks.exit, hooks.error

        def wrapper(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not self.on:
                return wrapped(*args, **kwargs)
            try:
                state = enter(wrapped, instance, args, kwargs)
            except Exception as exc:  # noqa: BLE001
                guard.report(site, exc)
                state = None
            if state is None:
                return wrapped(*args, **kwargs)
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                _failed(guard, site, failed, state, exc)
                raise
            return _left(guard, site, leave, state, result)

        return wrapper

    def hooks_async(self, site: str, hooks: Hooks) -> Wrapper:
        """Like :meth:`hooks_sync` for a target known to be a coroutine function.

        .. versionadded:: 0.1.0
        """
        guard = self.guard
        enter, leave, failed = hooks.enter, hooks.exit, hooks.error

        async def wrapper(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not self.on:
                return await wrapped(*args, **kwargs)
            try:
                state = enter(wrapped, instance, args, kwargs)
            except Exception as exc:  # noqa: BLE001
                guard.report(site, exc)
                state = None
            if state is None:
                return await wrapped(*args, **kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                _failed(guard, site, failed, state, exc)
                raise
            return _left(guard, site, leave, state, result)

        return wrapper

    # -- restoring --------------------------------------------------------------------------

    def restore(self) -> None:
        """Undo every patch, newest first, and cancel patches still waiting for an import."""
        with self._lock:
            self.on = False
            for pending in self._pending:
                pending.cancelled = True
            self._pending.clear()
            records, self._records = self._records, []
        for record in reversed(records):
            try:
                _restore(record)
            except Exception as exc:  # noqa: BLE001
                self.guard.report(f"restore {record.attribute}", exc)

    @property
    def applied(self) -> int:
        """How many patches are in place now."""
        with self._lock:
            return len(self._records)

    # -- internals --------------------------------------------------------------------------

    def _defer(self, module: str, path: str, apply: Callable[[Any], None]) -> None:
        """``apply(module)`` now if *module* is imported, else when it is."""
        if module in sys.modules:
            apply(sys.modules[module])
            return
        pending = _Pending(module, path)
        with self._lock:
            self._pending.append(pending)

        def on_import(mod: Any) -> None:
            # An exception here would break the app's import of the module: never let one out.
            try:
                if not pending.cancelled and self.on:
                    apply(mod)
            except Exception as exc:  # noqa: BLE001
                self.guard.report(f"import hook {module}.{path}", exc)

        wrapt.register_post_import_hook(on_import, module)

    def _replace(
        self,
        target: Any,
        path: str,
        make: Callable[[Any], Callable[..., Any]],
        fallback: Wrapper,
    ) -> None:
        found = self._resolve(target, path)
        if found is None:
            return
        original = found[2]
        replacement: Any = None
        # Only a plain function is stood in for (wrapt proxies pass isinstance, hence type).
        if type(original) is FunctionType:
            try:
                replacement = make(original)
            except TypeError:  # not what make() can stand in for
                replacement = None
            else:
                functools.update_wrapper(replacement, original)
        if replacement is None:
            replacement = wrapt.FunctionWrapper(original, fallback)
        self._place(*found, replacement)

    def _apply(self, target: Any, path: str, wrapper: Wrapper) -> None:
        found = self._resolve(target, path)
        if found is not None:
            self._place(*found, wrapt.FunctionWrapper(found[2], wrapper))

    def _resolve(self, target: Any, path: str) -> tuple[Any, str, Any, bool] | None:
        """``(owner, attribute, original, own)`` for *path*; *original* is what the owner
        itself holds when *own* (not a bound or inherited lookup). None, reported, if it
        does not resolve."""
        try:
            owner, attribute, original = wrapt.resolve_path(target, path)
        except Exception as exc:  # noqa: BLE001
            self.guard.report(f"resolve {getattr(target, '__name__', target)}.{path}", exc)
            return None
        namespace = _namespace(owner)
        own = namespace is not None and attribute in namespace
        if own:
            original = namespace[attribute]  # type: ignore[index]
        return owner, attribute, original, own

    def _place(self, owner: Any, attribute: str, original: Any, own: bool, handle: Any) -> None:
        with self._lock:
            try:
                setattr(owner, attribute, handle)
            except (TypeError, AttributeError) as exc:  # immutable (C) types, slotted instances
                self.guard.report(f"patch {getattr(owner, '__name__', owner)}.{attribute}", exc)
                return
            self._records.append(_Record(owner, attribute, original, own, handle))

    def _around_sync(self, site: str, step: Around) -> Wrapper:
        guard = self.guard

        def wrapper(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not self.on:
                return wrapped(*args, **kwargs)
            try:
                gen = step(wrapped, instance, args, kwargs)
                call = next(gen)
            except Exception as exc:  # noqa: BLE001
                guard.report(site, exc)
                return wrapped(*args, **kwargs)
            if call is not None:
                args, kwargs = call
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                _throw(guard, site, gen, exc)
                raise
            return _finish(guard, site, gen, result)

        return wrapper

    def _around_async(self, site: str, step: Around) -> Wrapper:
        guard = self.guard

        async def wrapper(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            if not self.on:
                return await wrapped(*args, **kwargs)
            try:
                gen = step(wrapped, instance, args, kwargs)
                call = next(gen)
            except Exception as exc:  # noqa: BLE001
                guard.report(site, exc)
                return await wrapped(*args, **kwargs)
            if call is not None:
                args, kwargs = call
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                _throw(guard, site, gen, exc)
                raise
            return _finish(guard, site, gen, result)

        return wrapper


def _throw(guard: Guard, site: str, gen: Generator[Call, Any, Any], exc: BaseException) -> None:
    """Let the step see the app's exception; the caller re-raises it unchanged."""
    try:
        gen.throw(exc)
    except StopIteration:
        return
    except BaseException as other:  # noqa: BLE001
        if other is not exc:
            guard.report(site, other)
        return
    guard.report(site, RuntimeError("instrumentation step yielded more than once"))
    gen.close()


def _finish(guard: Guard, site: str, gen: Generator[Call, Any, Any], result: Any) -> Any:
    try:
        gen.send(result)
    except StopIteration as stop:
        return result if stop.value is None else stop.value
    except Exception as exc:  # noqa: BLE001
        guard.report(site, exc)
        return result
    guard.report(site, RuntimeError("instrumentation step yielded more than once"))
    gen.close()
    return result


def _failed(
    guard: Guard,
    site: str,
    failed: Callable[[Any, BaseException], None],
    state: Any,
    exc: BaseException,
) -> None:
    """Let the hooks see the app's exception; the caller re-raises it unchanged."""
    try:
        failed(state, exc)
    except Exception as own:  # noqa: BLE001
        guard.report(site, own)


def _left(
    guard: Guard, site: str, leave: Callable[[Any, Any], Any], state: Any, result: Any
) -> Any:
    try:
        replaced = leave(state, result)
    except Exception as exc:  # noqa: BLE001
        guard.report(site, exc)
        return result
    return result if replaced is None else replaced


def _is_async(func: Any) -> bool:
    return inspect.iscoroutinefunction(func)


def _namespace(owner: Any) -> dict[str, Any] | None:
    try:
        ns = vars(owner)
    except TypeError:
        return None
    return ns  # type: ignore[no-any-return]


def _restore(record: _Record) -> None:
    ns = _namespace(record.owner)
    current = ns.get(record.attribute, _MISSING) if ns is not None else _MISSING
    if current is record.handle:
        if record.own:
            setattr(record.owner, record.attribute, record.original)
        else:
            delattr(record.owner, record.attribute)
        return
    # Someone wrapped on top of ours or replaced it: splice ours out when wrapt can (a plain
    # replacement stays in their chain and passes calls through, the patcher being off).
    unwrap = getattr(wrapt, "unwrap_object", None)
    if unwrap is not None and type(record.handle) is not FunctionType:
        unwrap(record.owner, record.attribute, record.handle, missing_ok=True)
