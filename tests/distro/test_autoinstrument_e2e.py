"""spanwise-instrument loads plugins from entry points, chains the user's sitecustomize and
instruments child processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

PLUGIN = textwrap.dedent(
    """
    from spanwise.core import Instrumentor

    class GoodPlugin(Instrumentor):
        name = "goodplug"

        def _instrument(self):
            import os
            os.environ["GOODPLUG_ACTIVE"] = "yes"

    class OtherPlugin(Instrumentor):
        name = "otherplug"

        def _instrument(self):
            import os
            os.environ["OTHERPLUG_ACTIVE"] = "yes"
    """
)

ENTRY_POINTS = textwrap.dedent(
    """
    [spanwise_instrumentor]
    broken = module_that_does_not_exist_xyz:Broken
    goodplug = userplugins:GoodPlugin
    otherplug = userplugins:OtherPlugin
    """
)

PROGRAM = textwrap.dedent(
    """
    import json, os, subprocess, sys
    from opentelemetry import trace
    state = {
        "pid": os.getpid(),
        "user_sitecustomize": os.environ.get("USER_SITECUSTOMIZE_RAN"),
        "good": os.environ.get("GOODPLUG_ACTIVE"),
        "other": os.environ.get("OTHERPLUG_ACTIVE"),
        "provider": type(trace.get_tracer_provider()).__module__,
    }
    if len(sys.argv) == 1:
        child = subprocess.run([sys.executable, __file__, "child"], capture_output=True, text=True)
        state["child"] = json.loads(child.stdout)
    print(json.dumps(state))
    """
)


def make_user_site(root: Path) -> Path:
    """A directory the user put on PYTHONPATH: their sitecustomize and two plugins (plus a
    registered plugin whose module does not exist)."""
    site = root / "usersite"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os\nos.environ['USER_SITECUSTOMIZE_RAN'] = 'yes'\n"
    )
    (site / "userplugins.py").write_text(PLUGIN)
    info = site / "userplugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: userplugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


class TestSpanwiseInstrument:
    def test_plugins_sitecustomize_and_children(
        self, tmp_path: Path, child_env: dict[str, str]
    ) -> None:
        """A broken plugin is logged and skipped, a disabled one is not loaded, the good one
        is; the user's sitecustomize runs; a child Python process is instrumented too."""
        site = make_user_site(tmp_path)
        program = tmp_path / "program.py"
        program.write_text(PROGRAM)
        child_env.update(
            PYTHONPATH=str(site),
            OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otherplug",
            OTEL_TRACES_EXPORTER="none",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "spanwise-instrument"), "python", str(program)],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert 0 == proc.returncode, proc.stderr
        state = json.loads(proc.stdout)
        child = state.pop("child")
        expected = {
            "user_sitecustomize": "yes",
            "good": "yes",
            "other": None,
            "provider": "opentelemetry.sdk.trace",
        }
        assert expected == {k: state[k] for k in expected}
        assert expected == {k: child[k] for k in expected}
        assert child["pid"] != state["pid"]
        assert "plugin 'broken'" in proc.stderr
        assert "module_that_does_not_exist_xyz" in proc.stderr

    def test_command_not_found(self, child_env: dict[str, str]) -> None:
        """An unknown command exits 127 with a message, like a shell."""
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "spanwise-instrument"), "no-such-command-xyz"],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (127, "spanwise-instrument: command not found: no-such-command-xyz\n") == (
            proc.returncode,
            proc.stderr,
        )
