"""Tests for spanwise.instrumentation.django._attributes."""

from __future__ import annotations

from types import SimpleNamespace

from django.test import RequestFactory
from django.urls import resolve

from spanwise.instrumentation.django._attributes import route_template


def _request(path: str) -> SimpleNamespace:
    return SimpleNamespace(resolver_match=resolve(path))


class TestRouteTemplate:
    def test_path_pattern_gets_a_leading_slash(self) -> None:
        """A path() pattern is shown as an absolute path with its converters."""
        assert "/users/<int:uid>/" == route_template(_request("/users/3/"))

    def test_included_patterns_are_joined(self) -> None:
        """Patterns under include() are joined into the full template."""
        assert "/api/items/<slug:name>/" == route_template(_request("/api/items/x/"))

    def test_regex_pattern_loses_its_caret(self) -> None:
        """A re_path() pattern is shown without its leading caret."""
        assert "/legacy/(?P<pk>[0-9]+)/$" == route_template(_request("/legacy/12/"))

    def test_root_pattern_is_a_slash(self) -> None:
        """The empty root pattern is shown as ``/``."""
        assert "/" == route_template(_request("/"))

    def test_unresolved_request_has_no_route(self) -> None:
        """Before or without URL resolution there is no route."""
        request = RequestFactory().get("/nowhere/")
        assert route_template(request) is None

    def test_resolver_match_without_a_text_route(self) -> None:
        """A resolver match whose route is not text gives no route."""
        assert route_template(SimpleNamespace(resolver_match=SimpleNamespace(route=None))) is None
