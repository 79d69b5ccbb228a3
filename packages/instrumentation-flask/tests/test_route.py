"""spanwise.instrumentation.flask._route."""

from typing import Any

from spanwise.instrumentation.flask._route import current_environ, current_route


class TestCurrentRoute:
    def test_none_outside_a_request(self) -> None:
        """No request context: no route."""
        assert current_route() is None

    def test_the_matched_rule_template(self, app: Any) -> None:
        """Inside a request, the matched rule's template, converters and all."""
        with app.test_request_context("/users/7"):
            assert "/users/<int:uid>" == current_route()

    def test_blueprint_prefix_is_included(self, app: Any) -> None:
        """A blueprint route comes with its url_prefix."""
        with app.test_request_context("/api/items/x"):
            assert "/api/items/<name>" == current_route()

    def test_none_when_nothing_matched(self, app: Any) -> None:
        """A 404 has no rule."""
        with app.test_request_context("/nowhere"):
            assert current_route() is None


class TestCurrentEnviron:
    def test_none_outside_a_request(self) -> None:
        """No request context: no environ."""
        assert current_environ() is None

    def test_the_request_environ(self, app: Any) -> None:
        """Inside a request, its WSGI environ."""
        with app.test_request_context("/users/7"):
            environ = current_environ()
            assert "/users/7" == (environ or {}).get("PATH_INFO")


class TestWithoutTheContextVariable:
    """A Flask whose request context is not in ``flask.globals._cv_request``: the proxy."""

    def test_route_and_environ_through_the_proxy(self, app: Any, monkeypatch: Any) -> None:
        """Same answers as with the context variable, inside and outside a request."""
        from spanwise.instrumentation.flask import _route

        monkeypatch.setattr(_route, "_context_var", False)
        outside = (current_route(), current_environ())
        with app.test_request_context("/users/7"):
            inside = (current_route(), (current_environ() or {}).get("PATH_INFO"))
        assert ((None, None), ("/users/<int:uid>", "/users/7")) == (outside, inside)
