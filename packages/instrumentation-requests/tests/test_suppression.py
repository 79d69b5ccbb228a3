"""spanwise.instrumentation.requests._suppression."""

from opentelemetry import context

from spanwise.instrumentation.requests._suppression import suppressed


class TestSuppressed:
    def test_false_by_default(self) -> None:
        """Nothing asked for suppression: not suppressed."""
        assert suppressed() is False

    def test_true_under_the_sdk_key(self) -> None:
        """The key the SDK sets while exporting suppresses."""
        token = context.attach(context.set_value(context._SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            assert suppressed() is True
        finally:
            context.detach(token)

    def test_true_under_the_http_key(self) -> None:
        """The HTTP-only key suppresses too."""
        key = context._SUPPRESS_HTTP_INSTRUMENTATION_KEY
        token = context.attach(context.set_value(key, True))
        try:
            assert suppressed() is True
        finally:
            context.detach(token)
