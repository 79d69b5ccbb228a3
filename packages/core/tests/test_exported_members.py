"""The public surface of spanwise-core, pinned."""

from __future__ import annotations

import spanwise.core
import spanwise.core.context
import spanwise.core.logs
import spanwise.core.propagation
import spanwise.core.semconv
import spanwise.core.testing


class TestExportedMembers:
    def test_core(self) -> None:
        """spanwise.core exports exactly these names."""
        assert sorted(
            [
                "OPERATION_TYPE_PROCESS", "OPERATION_TYPE_RECEIVE", "OPERATION_TYPE_SEND",
                "MessagingOperation", "MessagingTracer", "SCHEMA_URL", "Scoped", "Around", "Call", "ClientRequest", "DbClientTracer", "DbOperation", "ExcludedUrls",
                "Guard", "HeaderCapture", "Hooks", "HttpClientTracer", "HttpServerTracer", "Instrumentor",
                "LibraryCheck", "Options", "Patcher", "ServerRequest", "Wrapper", "__version__",
                "check_library", "disabled_instrumentations", "env_bool", "env_int", "env_list",
                "max_attribute_length", "supported_requirements",
            ]
        ) == sorted(spanwise.core.__all__)  # fmt: skip

    def test_context(self) -> None:
        """spanwise.core.context exports exactly these names."""
        assert [
            "attach",
            "current",
            "reset",
            "runtime_variable",
            "suppress",
            "suppressed",
            "with_span",
        ] == sorted(spanwise.core.context.__all__)

    def test_every_name_resolves(self) -> None:
        """Every exported name exists in each public package."""
        for module in (
            spanwise.core,
            spanwise.core.context,
            spanwise.core.propagation,
            spanwise.core.semconv,
            spanwise.core.testing,
        ):
            for name in module.__all__:
                assert hasattr(module, name), f"{module.__name__}.{name}"

    def test_testing_kit(self) -> None:
        """spanwise.core.testing exports exactly these names."""
        assert sorted(
            [
                "CapturedTelemetry", "JsonLinesSpanExporter", "OtlpReceiver", "Received", "SpanRecord",
                "SwitchableSampler", "otlp_attributes", "span_record",
                "assert_span_tree", "captured_telemetry", "free_port", "install_jsonl_export",
                "read_spans", "render_tree", "to_record", "wait_for_port",
            ]
        ) == sorted(spanwise.core.testing.__all__)  # fmt: skip

    def test_namespace_packages(self) -> None:
        """spanwise is a namespace package, so every distribution installs on its own."""
        import spanwise

        assert getattr(spanwise, "__file__", None) is None
