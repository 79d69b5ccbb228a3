"""RouteState and RouteHook: the route template learned at match time."""

from __future__ import annotations

import inspect
import sys
from types import FunctionType

import fastapi.routing
import pytest
import wrapt
from starlette.routing import Mount, Route

from spanwise.core import Guard
from spanwise.instrumentation.fastapi._routes import (
    RouteHook,
    RouteState,
    current_route,
    route_path,
)


def endpoint(request: object) -> None:
    return None


class TestRouteState:
    """Templates from the router's reports, else from the scope."""

    def test_route_selection(self) -> None:
        """A plain selection is the template."""
        state = RouteState()
        state.selected("/users/{uid}", False)
        assert "/users/{uid}" == state.resolve({})

    def test_mounts_prefix_the_inner_route(self) -> None:
        """A mount's path (without `/{path}`) prefixes the inner route's template."""
        state = RouteState()
        state.selected("/outer/{path}", True)
        state.selected("/inner/{path}", True)
        state.selected("/x/{y}", False)
        assert "/outer/inner/x/{y}" == state.resolve({})

    def test_mount_without_inner_report_uses_scope_route(self) -> None:
        """After a mount, the inner Starlette router's scope route completes the template."""
        state = RouteState()
        state.selected("/st/{tenant}/{path}", True)
        scope = {"route": Route("/p/{q:int}", endpoint)}
        assert "/st/{tenant}/p/{q}" == state.resolve(scope)

    def test_mount_alone_keeps_the_wildcard(self) -> None:
        """A mount whose app matched nothing is `prefix/{path}`."""
        state = RouteState()
        state.selected("/static/{path}", True)
        assert "/static/{path}" == state.resolve({"route": Mount("/static", routes=[])})

    def test_no_report_falls_back_to_scope_route(self) -> None:
        """Without reports the scope's route gives the template."""
        assert "/a/{b}" == RouteState().resolve({"route": Route("/a/{b}", endpoint)})

    def test_nothing_matched(self) -> None:
        """No report and no scope route: no template."""
        assert RouteState().resolve({}) is None

    def test_empty_path_is_ignored(self) -> None:
        """A selection without a path changes nothing."""
        state = RouteState()
        state.selected(None, False)
        assert (None, "") == (state.template, state.prefix)


class TestRoutePath:
    """The template of a route object."""

    def test_path_format_drops_convertors(self) -> None:
        """`{q:int}` is written `{q}`."""
        assert "/p/{q}" == route_path(Route("/p/{q:int}", endpoint))

    def test_objects_without_a_path(self) -> None:
        """Objects without a textual path give None."""
        assert (None, None) == (route_path(None), route_path(object()))


#: FastAPI 0.142 and newer report route selections to ``fastapi.routing._route_selected``.
ROUTE_CALLBACK = hasattr(fastapi.routing, "_route_selected")


@pytest.mark.skipif(not ROUTE_CALLBACK, reason="FastAPI before 0.142 has no route callback")
class TestRouteHook:
    """The wrapper around FastAPI's route-selection callback."""

    def test_acquire_and_release_restore_the_original(self) -> None:
        """The last release puts back the exact original callback."""
        original = fastapi.routing._route_selected
        hook = RouteHook(Guard("test"))
        hook.acquire()
        hook.acquire()
        wrapped = fastapi.routing._route_selected
        hook.release()
        still = fastapi.routing._route_selected
        hook.release()
        hook.release()
        assert (False, True, True) == (
            wrapped is original,
            still is wrapped,
            fastapi.routing._route_selected is original,
        )

    def test_reports_reach_the_current_request(self) -> None:
        """While a request is current, selections are recorded on its state."""
        hook = RouteHook(Guard("test"))
        hook.acquire()
        state = RouteState()
        token = current_route.set(state)
        try:
            fastapi.routing._route_selected(scope={}, path="/a/{b}")
        finally:
            current_route.reset(token)
            hook.release()
        assert "/a/{b}" == state.template

    def test_a_plain_function_with_the_original_signature(self) -> None:
        """The callback is replaced by a plain function (no wrapper object per request)."""
        before = inspect.signature(fastapi.routing._route_selected)
        hook = RouteHook(Guard("test"))
        hook.acquire()
        try:
            placed = fastapi.routing._route_selected
            assert (True, before) == (type(placed) is FunctionType, inspect.signature(placed))
        finally:
            hook.release()

    def test_someone_elses_wrapper_is_wrapped(self) -> None:
        """A wrapt wrapper already there is wrapped, not replaced; selections still arrive,
        and the release puts their wrapper back."""
        original = fastapi.routing._route_selected
        wrapt.wrap_function_wrapper(
            fastapi.routing, "_route_selected", lambda w, i, a, k: w(*a, **k)
        )
        theirs = fastapi.routing._route_selected
        hook = RouteHook(Guard("test"))
        state = RouteState()
        try:
            hook.acquire()
            placed = fastapi.routing._route_selected
            token = current_route.set(state)
            try:
                fastapi.routing._route_selected(scope={}, path="/w/{x}")
            finally:
                current_route.reset(token)
            hook.release()
            assert (False, "/w/{x}", True) == (
                type(placed) is FunctionType,
                state.template,
                fastapi.routing._route_selected is theirs,
            )
        finally:
            fastapi.routing._route_selected = original

    def test_bookkeeping_errors_are_swallowed(self) -> None:
        """A failing state update is reported, and the callback still runs."""

        class Broken(RouteState):
            def selected(self, path: str | None, mount: bool) -> None:
                raise RuntimeError("broken")

        guard = Guard("test")
        hook = RouteHook(guard)
        hook.acquire()
        token = current_route.set(Broken())
        try:
            result = fastapi.routing._route_selected(scope={}, path="/a")
        finally:
            current_route.reset(token)
            hook.release()
        assert (None, {"fastapi.route_selected": 1}) == (result, guard.failures)


@pytest.mark.skipif(ROUTE_CALLBACK, reason="this FastAPI has the route callback")
class TestRouteHookWithoutCallback:
    """FastAPI before 0.142: nothing to wrap, the scope's route is used instead."""

    def test_acquire_and_release_are_quiet(self) -> None:
        """Acquire and release patch nothing and report no failure."""
        guard = Guard("test")
        hook = RouteHook(guard)
        hook.acquire()
        hook.release()
        assert ({}, False) == (guard.failures, hasattr(fastapi.routing, "_route_selected"))


class TestCallbackDetection:
    """Whether to patch is decided without importing FastAPI."""

    def test_installed_version_agrees_with_the_module(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Before fastapi.routing is imported, the installed version (0.142+) decides, and it
        agrees with what the imported module has."""
        hook = RouteHook(Guard("test"))
        imported = hook._has_callback()
        monkeypatch.delitem(sys.modules, "fastapi.routing")
        assert (ROUTE_CALLBACK, ROUTE_CALLBACK) == (imported, hook._has_callback())
