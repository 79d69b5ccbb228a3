"""Instrumentor: idempotent, thread-safe, kill switch, version guard, exact restoration."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from spanwise.core import Instrumentor, check_library, supported_requirements
from spanwise.core.testing import CapturedTelemetry

LIB = """
class Client:
    def get(self, key):
        return {"key": key}
"""


def write_dist(site: Path, name: str, requires: list[str]) -> None:
    """A real installed-distribution record (dist-info) that importlib.metadata reads."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        "Version: 1.0",
        "Provides-Extra: instruments",
    ]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A site directory on sys.path holding a fake library module and distribution records."""
    (tmp_path / "kvlib.py").write_text(textwrap.dedent(LIB))
    write_dist(tmp_path, "kvlib", [])
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    supported_requirements.cache_clear()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("kvlib", None)
    supported_requirements.cache_clear()


def make_plugin(distribution: str) -> type[Instrumentor]:
    class KvInstrumentor(Instrumentor):
        name = "kvlib"
        instrumented_calls: ClassVar[list[int]] = []

        def _instrument(self) -> None:
            type(self).instrumented_calls.append(1)

            def step(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
                with self.tracer.start_as_current_span("kv.get"):
                    yield

            self.patcher.wrap("kvlib", "Client.get", self.patcher.around("kv.get", step))

    KvInstrumentor.distribution = distribution
    return KvInstrumentor


class TestInstrumentor:
    def test_one_instance_per_class(self, site: Path) -> None:
        """Every construction returns the same instrumentor."""
        cls = make_plugin("")
        assert cls() is cls()

    def test_instrument_twice_patches_once(self, site: Path, telemetry: CapturedTelemetry) -> None:
        """A second instrument() does nothing; one span per call."""
        cls = make_plugin("")
        inst = cls()
        inst.instrument()
        inst.instrument()
        import kvlib

        assert kvlib.Client().get(1) == {"key": 1}
        assert [s.name for s in telemetry.spans()] == ["kv.get"]
        assert len(cls.instrumented_calls) == 1
        inst.uninstrument()
        inst.uninstrument()
        assert not inst.is_instrumented

    def test_uninstrument_restores_originals(
        self, site: Path, telemetry: CapturedTelemetry
    ) -> None:
        """After uninstrument the class holds its original function and makes no spans."""
        import kvlib

        original = kvlib.Client.__dict__["get"]
        inst = make_plugin("")()
        inst.instrument()
        assert kvlib.Client.__dict__["get"] is not original
        inst.uninstrument()
        assert kvlib.Client.__dict__["get"] is original
        kvlib.Client().get(2)
        assert telemetry.spans() == []

    def test_reinstrument_after_uninstrument(
        self, site: Path, telemetry: CapturedTelemetry
    ) -> None:
        """instrument / uninstrument / instrument works again."""
        import kvlib

        inst = make_plugin("")()
        inst.instrument()
        inst.uninstrument()
        inst.instrument()
        kvlib.Client().get(3)
        assert len(telemetry.spans()) == 1
        inst.uninstrument()

    def test_concurrent_instrument_patches_once(self, site: Path) -> None:
        """Threads racing to instrument patch exactly once."""
        import kvlib  # noqa: F401 - imported so the patch applies at once

        cls = make_plugin("")
        inst = cls()
        barrier = threading.Barrier(8)

        def go() -> None:
            barrier.wait()
            inst.instrument()

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(cls.instrumented_calls) == 1
        assert inst.patcher.applied == 1
        inst.uninstrument()

    def test_kill_switch(self, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS names the plugin: nothing is patched."""
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "redis, kvlib")
        inst = make_plugin("")()
        inst.instrument()
        assert not inst.is_instrumented
        assert inst.patcher.applied == 0

    def test_instrument_error_restores_and_is_reported(self, site: Path) -> None:
        """A bug in _instrument leaves nothing patched and raises nothing."""

        class Broken(Instrumentor):
            name = "broken"

            def _instrument(self) -> None:
                self.patcher.wrap("kvlib", "Client.get", lambda w, i, a, k: w(*a, **k))
                raise RuntimeError("half-way")

        import kvlib

        original = kvlib.Client.__dict__["get"]
        Broken().instrument()
        assert not Broken().is_instrumented
        assert kvlib.Client.__dict__["get"] is original


class TestVersionGuard:
    def test_in_range_instruments(self, site: Path) -> None:
        """The installed library inside the declared range: patched."""
        write_dist(site, "kv-plugin-ok", ['kvlib>=0.5,<2; extra == "instruments"'])
        inst = make_plugin("kv-plugin-ok")()
        inst.instrument()
        assert inst.is_instrumented
        inst.uninstrument()

    def test_out_of_range_warns_once_and_patches_nothing(
        self, site: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Outside the range: one warning naming the range, no patch, however often called."""
        write_dist(site, "kv-plugin-old", ['kvlib>=2; extra == "instruments"', "wrapt"])
        inst = make_plugin("kv-plugin-old")()
        with caplog.at_level(logging.WARNING, logger="spanwise"):
            inst.instrument()
            inst.instrument()
        assert not inst.is_instrumented
        assert inst.patcher.applied == 0
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "kvlib 1.0 is outside the supported range >=2" in warnings[0].getMessage()

    def test_force_instruments_anyway(self, site: Path) -> None:
        """force=True instruments outside the range."""
        write_dist(site, "kv-plugin-force", ['kvlib>=2; extra == "instruments"'])
        inst = make_plugin("kv-plugin-force")()
        inst.instrument(force=True)
        assert inst.is_instrumented
        inst.uninstrument()

    def test_range_read_from_metadata_only(self, site: Path) -> None:
        """Only the instruments extra counts as the supported range."""
        write_dist(site, "kv-plugin-meta", ['kvlib<5; extra == "instruments"', "wrapt>=1"])
        reqs = supported_requirements("kv-plugin-meta")
        assert [str(r) for r in reqs] == ["kvlib<5"]
        assert check_library("kv-plugin-meta").ok

    def test_library_not_installed(self, site: Path) -> None:
        """A library that is not installed is a problem, reported as such."""
        write_dist(site, "kv-plugin-none", ['nosuchlib-xyz>=1; extra == "instruments"'])
        result = check_library("kv-plugin-none")
        assert not result.ok
        assert result.installed == (("nosuchlib-xyz", None),)

    def test_our_plugins_declare_their_range(self) -> None:
        """Every installed Spanwise plugin but logging declares an instruments range."""
        for dist in importlib.metadata.distributions():
            name = dist.metadata["Name"]
            if (
                name.startswith("spanwise-instrumentation-")
                and name != "spanwise-instrumentation-logging"
            ):
                assert supported_requirements(name), name


class TestScoped:
    def test_resolves_options_tracer_and_meter(self, site: Path) -> None:
        """Per-object options come back resolved, with a tracer and meter for them."""
        scoped = make_plugin("")().scoped({"excluded_urls": "/health", "flag": 1})
        assert scoped is not None
        assert (("/health",), {"flag": 1}) == (
            scoped.options.excluded_urls.patterns,
            dict(scoped.options.extra),
        )
        assert scoped.tracer is not None
        assert scoped.meter is not None

    def test_kill_switch_and_version_guard_say_no(
        self, site: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Disabled plugin or library out of range: None; force=True overrides the range."""
        write_dist(site, "kv-plugin-scoped", ['kvlib>=2; extra == "instruments"'])
        inst = make_plugin("kv-plugin-scoped")()
        options = {"force": True}
        assert (None, True, {}) == (inst.scoped({}), inst.scoped(options) is not None, options)
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "kvlib")
        assert inst.scoped({"force": True}) is None
