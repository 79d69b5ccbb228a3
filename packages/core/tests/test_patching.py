"""Patcher: wrapping by dotted path, deferred patches, exact restoration, guarded steps."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spanwise.core import Guard, Patcher


@pytest.fixture
def module_factory(tmp_path: Path) -> Iterator[Any]:
    """Writes real modules to disk so imports and post-import hooks run for real."""
    sys.path.insert(0, str(tmp_path))
    created: list[str] = []

    def make(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        created.append(name)
        importlib.invalidate_caches()
        return name

    yield make
    sys.path.remove(str(tmp_path))
    for name in created:
        sys.modules.pop(name, None)


SOURCE = """
    class Service:
        def compute(self, x):
            return x * 2

        def fail(self):
            raise KeyError("app error")

        @staticmethod
        def static(x):
            return x + 1

        @classmethod
        def klass(cls, x):
            return (cls.__name__, x)

        async def acompute(self, x):
            return x * 3

    class Child(Service):
        pass

    def function(a, b=2):
        '''The docstring.'''
        return a + b
"""


def passthrough(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return wrapped(*args, **kwargs)


class TestWrap:
    def test_wraps_method_and_restores_exact_original(self, module_factory: Any) -> None:
        """uninstrument restores the very object that was in the class dict."""
        mod = importlib.import_module(module_factory("svc_a", SOURCE))
        original = mod.Service.__dict__["compute"]
        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_a", "Service.compute", passthrough)
        assert mod.Service.__dict__["compute"] is not original
        assert mod.Service().compute(4) == 8
        patcher.restore()
        assert mod.Service.__dict__["compute"] is original

    def test_inherited_method_patched_on_subclass_is_removed(self, module_factory: Any) -> None:
        """Patching an inherited attribute through a subclass leaves no shadow behind."""
        mod = importlib.import_module(module_factory("svc_b", SOURCE))
        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_b", "Child.compute", passthrough)
        assert "compute" in mod.Child.__dict__
        patcher.restore()
        assert "compute" not in mod.Child.__dict__

    def test_static_and_class_methods_keep_working(self, module_factory: Any) -> None:
        """Descriptors (staticmethod, classmethod) keep their binding when wrapped."""
        mod = importlib.import_module(module_factory("svc_c", SOURCE))
        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_c", "Service.static", passthrough)
        patcher.wrap("svc_c", "Service.klass", passthrough)
        assert mod.Service.static(2) == 3
        assert mod.Child.klass(5) == ("Child", 5)
        patcher.restore()
        assert isinstance(mod.Service.__dict__["static"], staticmethod)

    def test_signature_and_metadata_pass_through(self, module_factory: Any) -> None:
        """inspect.signature, __name__, __doc__ and isinstance see the original."""
        mod = importlib.import_module(module_factory("svc_d", SOURCE))
        before = inspect.signature(mod.function)
        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_d", "function", passthrough)
        assert before == inspect.signature(mod.function)
        assert mod.function.__name__ == "function"
        assert mod.function.__doc__ == "The docstring."
        patcher.restore()

    def test_deferred_patch_applies_on_later_import(self, module_factory: Any) -> None:
        """A patch for a module not imported yet is applied when it is imported."""
        name = module_factory("svc_late", SOURCE)
        assert name not in sys.modules
        calls: list[int] = []

        def counting(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            calls.append(1)
            return wrapped(*args, **kwargs)

        patcher = Patcher(Guard("test"))
        patcher.wrap(name, "Service.compute", counting)
        mod = importlib.import_module(name)
        assert mod.Service().compute(3) == 6
        assert calls == [1]
        patcher.restore()
        assert mod.Service().compute(3) == 6
        assert calls == [1]

    def test_deferred_patch_cancelled_by_restore(self, module_factory: Any) -> None:
        """Restoring before the import means the import brings the original."""
        name = module_factory("svc_cancel", SOURCE)
        patcher = Patcher(Guard("test"))
        patcher.wrap(name, "Service.compute", passthrough)
        patcher.restore()
        mod = importlib.import_module(name)
        assert "compute" in mod.Service.__dict__
        assert inspect.isfunction(mod.Service.__dict__["compute"])
        assert not hasattr(mod.Service.__dict__["compute"], "__wrapped__")

    def test_missing_attribute_is_reported_not_raised(
        self, module_factory: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A path that does not resolve is logged and skipped; the import still works."""
        name = module_factory("svc_missing", SOURCE)
        patcher = Patcher(Guard("plugin-x"))
        patcher.wrap(name, "Service.nope", passthrough)
        with caplog.at_level(logging.WARNING, logger="spanwise"):
            mod = importlib.import_module(name)
        assert mod.Service().compute(2) == 4
        assert patcher.applied == 0
        assert "plugin-x" in caplog.text

    def test_immutable_type_is_reported_not_raised(self) -> None:
        """Builtin types cannot be patched; the patcher says so instead of raising."""
        patcher = Patcher(Guard("test"))
        patcher.wrap_object(int, "bit_length", passthrough)
        assert patcher.applied == 0
        assert sum(patcher.guard.failures.values()) == 1

    def test_restore_splices_out_when_someone_wrapped_on_top(self, module_factory: Any) -> None:
        """Another wrapt wrapper added after ours survives our restore; ours is gone."""
        import wrapt

        mod = importlib.import_module(module_factory("svc_stack", SOURCE))
        seen: list[str] = []

        def ours(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            seen.append("ours")
            return wrapped(*args, **kwargs)

        def theirs(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            seen.append("theirs")
            return wrapped(*args, **kwargs)

        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_stack", "Service.compute", ours)
        wrapt.wrap_function_wrapper(mod, "Service.compute", theirs)
        patcher.restore()
        assert mod.Service().compute(2) == 4
        assert seen == ["theirs"]


def doubling(patcher: Patcher, log: list[Any]) -> Any:
    """A ``make`` for Patcher.replace: a plain function that notes each call it handles
    while the patcher is on and calls the original with the caller's arguments (names and
    signature are left to the patcher to copy)."""

    def make(original: Any) -> Any:
        def compute(self: Any, x: Any) -> Any:
            if patcher.on:
                log.append(("ours", x))
            return original(self, x)

        return compute

    return make


class TestReplace:
    def test_plain_function_in_place_and_exact_original_back(self, module_factory: Any) -> None:
        """The class holds a plain function (no wrapper object) until restore() puts back
        the very object that was in the class dict."""
        mod = importlib.import_module(module_factory("svc_r1", SOURCE))
        original = mod.Service.__dict__["compute"]
        patcher = Patcher(Guard("test"))
        log: list[Any] = []
        patcher.replace("svc_r1", "Service.compute", doubling(patcher, log), passthrough)
        placed = mod.Service.__dict__["compute"]
        result = mod.Service().compute(4)
        patcher.restore()
        assert (True, 8, [("ours", 4)], True, 1, ("compute", original)) == (
            type(placed) is type(original) and placed is not original,
            result,
            log,
            mod.Service.__dict__["compute"] is original,
            len({inspect.signature(placed), inspect.signature(original)}),
            (placed.__name__, placed.__wrapped__),
        )

    def test_inherited_attribute_leaves_no_shadow(self, module_factory: Any) -> None:
        """Replacing an inherited method through a subclass, then restoring, removes it."""
        mod = importlib.import_module(module_factory("svc_r2", SOURCE))
        patcher = Patcher(Guard("test"))
        log: list[Any] = []
        patcher.replace("svc_r2", "Child.compute", doubling(patcher, log), passthrough)
        during = ("compute" in mod.Child.__dict__, mod.Child().compute(1), mod.Service().compute(2))
        patcher.restore()
        assert ((True, 2, 4), [("ours", 1)], False) == (
            during,
            log,
            "compute" in mod.Child.__dict__,
        )

    def test_deferred_until_import_and_cancelled_by_restore(self, module_factory: Any) -> None:
        """Like wrap(): applied when the module is imported; not at all if restored first."""
        late = module_factory("svc_r3", SOURCE)
        never = module_factory("svc_r4", SOURCE)
        patcher = Patcher(Guard("test"))
        log: list[Any] = []
        patcher.replace(late, "Service.compute", doubling(patcher, log), passthrough)
        mod = importlib.import_module(late)
        mod.Service().compute(3)
        other = Patcher(Guard("test"))
        other.replace(never, "Service.compute", doubling(other, log), passthrough)
        other.restore()
        untouched = importlib.import_module(never)
        untouched.Service().compute(5)
        patcher.restore()
        assert ([("ours", 3)], False) == (
            log,
            hasattr(untouched.Service.__dict__["compute"], "__wrapped__"),
        )

    def test_type_error_from_make_falls_back_to_wrapping(self, module_factory: Any) -> None:
        """Someone else's wrapper in place: it is wrapped with the fallback, then restored."""
        import wrapt

        mod = importlib.import_module(module_factory("svc_r5", SOURCE))
        wrapt.wrap_function_wrapper(mod, "Service.compute", passthrough)
        theirs = mod.Service.__dict__["compute"]
        seen: list[str] = []

        def fallback(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            seen.append("fallback")
            return wrapped(*args, **kwargs)

        patcher = Patcher(Guard("test"))
        patcher.replace("svc_r5", "Service.compute", doubling(patcher, []), fallback)
        result = mod.Service().compute(2)
        patcher.restore()
        assert (4, ["fallback"], True) == (result, seen, mod.Service.__dict__["compute"] is theirs)

    def test_type_error_from_make_on_a_plain_function_falls_back(self, module_factory: Any) -> None:
        """make() may refuse a plain function it cannot stand in for: wrapped instead."""
        mod = importlib.import_module(module_factory("svc_r8", SOURCE))
        original = mod.Service.__dict__["compute"]
        seen: list[str] = []

        def refuse(original: Any) -> Any:
            raise TypeError("not this one")

        def fallback(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            seen.append("fallback")
            return wrapped(*args, **kwargs)

        patcher = Patcher(Guard("test"))
        patcher.replace("svc_r8", "Service.compute", refuse, fallback)
        result = mod.Service().compute(2)
        patcher.restore()
        assert (4, ["fallback"], True) == (
            result,
            seen,
            mod.Service.__dict__["compute"] is original,
        )

    def test_wrapped_on_top_stays_and_ours_passes_through(self, module_factory: Any) -> None:
        """A wrapper added over our function survives restore(); ours then passes calls on."""
        import wrapt

        mod = importlib.import_module(module_factory("svc_r6", SOURCE))
        seen: list[Any] = []

        def theirs(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            seen.append("theirs")
            return wrapped(*args, **kwargs)

        patcher = Patcher(Guard("test"))
        patcher.replace("svc_r6", "Service.compute", doubling(patcher, seen), passthrough)
        wrapt.wrap_function_wrapper(mod, "Service.compute", theirs)
        patcher.restore()
        assert (6, ["theirs"]) == (mod.Service().compute(3), seen)

    def test_missing_attribute_is_reported_not_raised(self, module_factory: Any) -> None:
        """A path that does not resolve is reported through the guard and skipped."""
        importlib.import_module(module_factory("svc_r7", SOURCE))
        patcher = Patcher(Guard("test"))
        patcher.replace("svc_r7", "Service.nope", doubling(patcher, []), passthrough)
        assert (0, 1) == (patcher.applied, sum(patcher.guard.failures.values()))


def step_recording(log: list[Any]) -> Any:
    def step(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        log.append(("before", args))
        try:
            result = yield
        except Exception as exc:
            log.append(("error", type(exc).__name__))
            raise
        log.append(("after", result))

    return step


class TestAround:
    def test_runs_app_once_and_returns_its_result(self, module_factory: Any) -> None:
        """The step sees args and result; the caller gets the app's own result."""
        mod = importlib.import_module(module_factory("svc_e", SOURCE))
        log: list[Any] = []
        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_e", "Service.compute", patcher.around("s", step_recording(log)))
        assert mod.Service().compute(5) == 10
        assert log == [("before", (5,)), ("after", 10)]
        patcher.restore()

    def test_app_exception_reaches_caller_unchanged(self, module_factory: Any) -> None:
        """The app's exception object propagates as is, after the step saw it."""
        mod = importlib.import_module(module_factory("svc_f", SOURCE))
        log: list[Any] = []
        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_f", "Service.fail", patcher.around("s", step_recording(log)))
        with pytest.raises(KeyError) as info:
            mod.Service().fail()
        assert str(info.value) == "'app error'"
        assert log[-1] == ("error", "KeyError")
        patcher.restore()

    @pytest.mark.parametrize("where", ["before", "after", "on-error"])
    def test_instrumentation_bug_is_swallowed_and_logged_once(
        self, module_factory: Any, caplog: pytest.LogCaptureFixture, where: str
    ) -> None:
        """A raising step never changes what the app returns or raises; one log line per site."""
        mod = importlib.import_module(module_factory(f"svc_bug_{where.replace('-', '_')}", SOURCE))
        calls: list[int] = []

        def bad(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            if where == "before":
                raise RuntimeError("bug before")
            try:
                yield
            except Exception:
                raise ZeroDivisionError("bug on error") from None
            raise RuntimeError("bug after")

        def counted(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            calls.append(1)
            return wrapped(*args, **kwargs)

        patcher = Patcher(Guard("buggy-plugin"))
        name = mod.__name__
        target = "Service.fail" if where == "on-error" else "Service.compute"
        patcher.wrap(name, target, counted)
        patcher.wrap(name, target, patcher.around("site-1", bad))
        with caplog.at_level(logging.WARNING, logger="spanwise"):
            for _ in range(3):
                if where == "on-error":
                    with pytest.raises(KeyError):
                        mod.Service().fail()
                else:
                    assert mod.Service().compute(7) == 14
        assert len(calls) == 3
        assert caplog.text.count("buggy-plugin") == 1
        assert patcher.guard.failures == {"site-1": 3}
        patcher.restore()

    def test_step_may_replace_arguments(self, module_factory: Any) -> None:
        """Yielding (args, kwargs) calls the app with those instead."""
        mod = importlib.import_module(module_factory("svc_g", SOURCE))

        def step(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            yield ((args[0] + 1,), kwargs)

        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_g", "Service.compute", patcher.around("s", step))
        assert mod.Service().compute(5) == 12
        patcher.restore()

    def test_step_may_replace_result(self, module_factory: Any) -> None:
        """A non-None return value from the step replaces the result."""
        mod = importlib.import_module(module_factory("svc_h", SOURCE))

        def step(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            result = yield
            return [result]

        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_h", "Service.compute", patcher.around("s", step))
        assert mod.Service().compute(2) == [4]
        patcher.restore()

    def test_async_target_stays_a_coroutine_function(self, module_factory: Any) -> None:
        """Async methods stay coroutine functions and are awaited once."""
        mod = importlib.import_module(module_factory("svc_i", SOURCE))
        log: list[Any] = []
        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_i", "Service.acompute", patcher.around("s", step_recording(log)))
        assert inspect.iscoroutinefunction(mod.Service().acompute)
        assert asyncio.run(mod.Service().acompute(3)) == 9
        assert log == [("before", (3,)), ("after", 9)]
        patcher.restore()

    def test_wrapper_kept_after_restore_passes_through(self, module_factory: Any) -> None:
        """A reference taken while patched no longer runs the step after restore."""
        mod = importlib.import_module(module_factory("svc_j", SOURCE))
        log: list[Any] = []
        patcher = Patcher(Guard("test"))
        patcher.wrap("svc_j", "function", patcher.around("s", step_recording(log)))
        kept = mod.function
        patcher.restore()
        assert kept(3) == 5
        assert log == []


class Recording:
    """Hooks that note what they see; each part can be made to fail or to decline."""

    def __init__(self, *, decline: bool = False, fail: str = "", replace: Any = None) -> None:
        self.log: list[Any] = []
        self.decline = decline
        self.fail = fail
        self.replace = replace

    def enter(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        self.log.append(("enter", args))
        if self.fail == "enter":
            raise RuntimeError("enter bug")
        return None if self.decline else "state"

    def exit(self, state: Any, result: Any) -> Any:
        self.log.append(("exit", state, result))
        if self.fail == "exit":
            raise RuntimeError("exit bug")
        return self.replace

    def error(self, state: Any, exc: BaseException) -> None:
        self.log.append(("error", state, type(exc).__name__))
        if self.fail == "error":
            raise RuntimeError("error bug")


class TestHooks:
    def _wrapped(self, module_factory: Any, name: str, hooks: Recording) -> tuple[Any, Patcher]:
        mod = importlib.import_module(module_factory(name, SOURCE))
        patcher = Patcher(Guard("test"))
        patcher.wrap(name, "Service.compute", patcher.hooks_sync("t", hooks))
        patcher.wrap(name, "Service.fail", patcher.hooks_sync("t", hooks))
        patcher.wrap(name, "Service.acompute", patcher.hooks_async("t", hooks))
        return mod, patcher

    def test_enter_then_exit_with_the_result(self, module_factory: Any) -> None:
        """The call runs once between enter and exit; its result reaches the caller."""
        hooks = Recording()
        mod, patcher = self._wrapped(module_factory, "svc_h1", hooks)
        result = mod.Service().compute(4)
        patcher.restore()
        assert (8, [("enter", (4,)), ("exit", "state", 8)]) == (result, hooks.log)

    def test_app_exception_reaches_caller_after_error(self, module_factory: Any) -> None:
        """The app's exception is seen by error() and re-raised unchanged."""
        hooks = Recording()
        mod, patcher = self._wrapped(module_factory, "svc_h2", hooks)
        with pytest.raises(KeyError, match="app error"):
            mod.Service().fail()
        patcher.restore()
        assert [("enter", ()), ("error", "state", "KeyError")] == hooks.log

    def test_declined_call_passes_through(self, module_factory: Any) -> None:
        """enter() returning None: the call runs untraced, no exit."""
        hooks = Recording(decline=True)
        mod, patcher = self._wrapped(module_factory, "svc_h3", hooks)
        result = mod.Service().compute(2)
        patcher.restore()
        assert (4, [("enter", (2,))]) == (result, hooks.log)

    @pytest.mark.parametrize("part", ["enter", "exit", "error"])
    def test_bugs_in_hooks_are_reported_never_raised(self, module_factory: Any, part: str) -> None:
        """A failing part is reported through the guard each time it fails (enter for both
        calls, exit and error for one each); the app's result or exception is what the
        caller gets."""
        hooks = Recording(fail=part)
        mod, patcher = self._wrapped(module_factory, f"svc_h4_{part}", hooks)
        result = mod.Service().compute(3)
        with pytest.raises(KeyError):
            mod.Service().fail()
        patcher.restore()
        failures = {"enter": 2, "exit": 1, "error": 1}[part]
        assert (6, failures) == (result, sum(patcher.guard.failures.values()))

    def test_exit_may_replace_the_result(self, module_factory: Any) -> None:
        """A value other than None from exit() replaces the result."""
        hooks = Recording(replace="wrapped result")
        mod, patcher = self._wrapped(module_factory, "svc_h5", hooks)
        result = mod.Service().compute(1)
        patcher.restore()
        assert "wrapped result" == result

    def test_async_target(self, module_factory: Any) -> None:
        """hooks_async awaits the call between enter and exit; the wrapper stays a coroutine
        function."""
        hooks = Recording()
        mod, patcher = self._wrapped(module_factory, "svc_h6", hooks)
        is_coroutine = inspect.iscoroutinefunction(mod.Service().acompute)
        result = asyncio.run(mod.Service().acompute(2))
        patcher.restore()
        assert (True, 6, [("enter", (2,)), ("exit", "state", 6)]) == (
            is_coroutine,
            result,
            hooks.log,
        )

    def test_kept_wrapper_passes_through_after_restore(self, module_factory: Any) -> None:
        """A reference kept to the wrapper calls straight through once restored."""
        hooks = Recording()
        mod, patcher = self._wrapped(module_factory, "svc_h7", hooks)
        kept = mod.Service().compute
        patcher.restore()
        assert (10, []) == (kept(5), hooks.log)
