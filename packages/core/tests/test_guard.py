"""Guard: failures inside instrumentation are logged once per site and swallowed."""

from __future__ import annotations

import logging

import pytest

from spanwise.core import Guard


def boom() -> None:
    raise ValueError("instrumentation bug")


class TestGuard:
    def test_call_returns_value(self) -> None:
        """A healthy call's return value comes back."""
        assert Guard("p").call("site", lambda a, b: a + b, 1, 2) == 3

    def test_call_swallows_and_returns_none(self) -> None:
        """A failing call returns None instead of raising."""
        assert Guard("p").call("site", boom) is None

    def test_logs_once_per_site_naming_the_plugin(self, caplog: pytest.LogCaptureFixture) -> None:
        """The first failure at a site is logged with the plugin name; repeats are counted."""
        guard = Guard("my-plugin")
        with caplog.at_level(logging.WARNING, logger="spanwise"):
            for _ in range(5):
                guard.call("a", boom)
            guard.call("b", boom)
        assert len(caplog.records) == 2
        assert "my-plugin" in caplog.records[0].getMessage()
        assert guard.failures == {"a": 5, "b": 1}

    def test_hook_none_is_a_no_op(self) -> None:
        """No hook configured: nothing happens, nothing is counted as a failure."""
        guard = Guard("p")
        guard.hook("site", None, 1)
        assert {} == guard.failures

    def test_hook_failure_is_swallowed(self) -> None:
        """A user's hook that raises never reaches the app."""
        guard = Guard("p")
        guard.hook("request_hook", lambda span: 1 / 0, object())
        assert guard.failures == {"request_hook": 1}

    def test_base_exceptions_are_not_swallowed(self) -> None:
        """KeyboardInterrupt and SystemExit are not instrumentation bugs: they propagate."""

        def interrupt() -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            Guard("p").call("site", interrupt)
