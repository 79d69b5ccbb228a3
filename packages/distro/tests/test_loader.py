"""Loading plugins from the spanwise_instrumentor entry points."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from spanwise.distro import PluginStatus, load_instrumentors
from spanwise.distro._loader import check_plugin, installed_plugins

PLUGINS = textwrap.dedent(
    """
    import os
    from spanwise.core import Instrumentor

    class Good(Instrumentor):
        name = "loadertest_good"

        def _instrument(self):
            os.environ["LOADERTEST_GOOD"] = "on"

        def _uninstrument(self):
            os.environ.pop("LOADERTEST_GOOD", None)

    class Failing(Instrumentor):
        name = "loadertest_failing"

        def __init__(self):
            raise RuntimeError("cannot construct")

    class NotAPlugin:
        pass
    """
)

ENTRY_POINTS = textwrap.dedent(
    """
    [spanwise_instrumentor]
    loadertest_good = loadertest_plugins:Good
    loadertest_failing = loadertest_plugins:Failing
    loadertest_missing = loadertest_no_such_module:Thing
    loadertest_notaplugin = loadertest_plugins:NotAPlugin
    loadertest_disabled = loadertest_plugins:Good
    """
)

METADATA = (
    "Metadata-Version: 2.1\nName: loadertest-plugins\nVersion: 1.0\n"
    "Provides-Extra: instruments\nRequires-Dist: pytest<1; extra == 'instruments'\n"
)


@pytest.fixture
def test_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Our test plugins registered through a real dist-info; the workspace plugins disabled."""
    (tmp_path / "loadertest_plugins.py").write_text(PLUGINS)
    info = tmp_path / "loadertest_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(METADATA)
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    others = [ep.name for ep in installed_plugins() if not ep.name.startswith("loadertest")]
    monkeypatch.setenv(
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", ",".join([*others, "loadertest_disabled"])
    )
    yield tmp_path
    import loadertest_plugins  # type: ignore[import-not-found]

    loadertest_plugins.Good().uninstrument()


class TestLoadInstrumentors:
    def test_broken_plugins_skipped_rest_loaded(
        self, test_plugins: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Failures are logged and reported; the good plugin still instruments; a disabled
        one is never imported."""
        del test_plugins
        statuses = {
            s.name: s.state for s in load_instrumentors() if s.name.startswith("loadertest")
        }
        expected = {
            "loadertest_disabled": "disabled",
            "loadertest_failing": "failed",
            "loadertest_good": "instrumented",
            "loadertest_missing": "failed",
            "loadertest_notaplugin": "failed",
        }
        assert expected == statuses
        assert "on" == os.environ.get("LOADERTEST_GOOD")
        failures = [r.getMessage() for r in caplog.records if "failed to load" in r.getMessage()]
        assert 3 == len(failures)

    def test_disable_all(self, test_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=* loads nothing."""
        del test_plugins
        monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "*")
        assert {"disabled"} == {s.state for s in load_instrumentors()}


class TestCheckPlugin:
    def test_out_of_range_library_is_inactive(self, test_plugins: Path) -> None:
        """A plugin whose instruments extra does not match the installed library is inactive."""
        del test_plugins
        ep = next(ep for ep in installed_plugins() if ep.name == "loadertest_good")
        status = check_plugin(ep, {})
        assert ("inactive", "loadertest-plugins") == (status.state, status.distribution)
        assert "outside the supported range" in status.detail

    def test_disabled(self, test_plugins: Path) -> None:
        """A disabled plugin is reported as disabled without being imported."""
        del test_plugins
        ep = next(ep for ep in installed_plugins() if ep.name == "loadertest_missing")
        status = check_plugin(ep, {"OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "loadertest_missing"})
        expected = PluginStatus(
            "loadertest_missing",
            "loadertest_no_such_module:Thing",
            "loadertest-plugins",
            "disabled",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
        )
        assert expected == status
