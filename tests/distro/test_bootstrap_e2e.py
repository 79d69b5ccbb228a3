"""spanwise-bootstrap in fresh virtual environments made by uv and by python -m venv (pip)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
WHEELS = (
    "spanwise-core",
    "spanwise-distro",
    "spanwise-instrumentation-flask",
    "spanwise-instrumentation-redis",
    "spanwise-instrumentation-requests",
    "spanwise-instrumentation-logging",
)
UV = shutil.which("uv")


def run(*argv: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=110, env=env, check=False
    )
    assert 0 == proc.returncode, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of our packages, built from the workspace."""
    if UV is None:
        pytest.skip("uv is not installed")
    out = tmp_path_factory.mktemp("wheels")
    for package in WHEELS:
        run(UV, "build", "-q", "--package", package, "--wheel", "-o", out, "--directory", ROOT)
    return out


def versions(python: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m;"
        "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
    )
    return json.loads(run(python, "-c", code).stdout)  # type: ignore[no-any-return]


def bootstrap_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VIRTUAL_ENV"))}
    env.pop("PYTHONPATH", None)
    env["PATH"] = str(venv / "bin") + os.pathsep + os.environ.get("PATH", "")
    return env


EXPECTED_REQUIREMENTS = [
    "spanwise-instrumentation-flask",
    "spanwise-instrumentation-logging",
    "spanwise-instrumentation-redis",
    "spanwise-instrumentation-requests",  # requests comes with the OTLP/HTTP exporter
]


class TestBootstrapUv:
    def test_lists_and_installs_with_uv(self, tmp_path: Path, wheels: Path) -> None:
        """In a uv environment the right plugins are listed and installed with uv, the
        out-of-range structlog is skipped with a reason, and no user version changes."""
        assert UV is not None
        venv = tmp_path / "venv"
        run(UV, "venv", "-q", "--python", sys.executable, venv)
        python = venv / "bin" / "python"
        run(UV, "pip", "install", "-q", "--python", python, "--find-links", wheels,
            "flask==3.0.3", "redis==5.0.8", "structlog==22.3.0", "spanwise-distro")  # fmt: skip
        before = versions(python)
        env = bootstrap_env(venv)

        listed = run(venv / "bin" / "spanwise-bootstrap", "-a", "requirements", env=env)
        assert EXPECTED_REQUIREMENTS == listed.stdout.split()
        assert (
            "skipped spanwise-instrumentation-structlog: structlog 22.3.0 is outside the "
            "supported range >=23.1,<27"
        ) in listed.stderr

        done = run(venv / "bin" / "spanwise-bootstrap", "-a", "install", "--", "--find-links",
                   wheels, env=env)  # fmt: skip
        assert f"uv pip install --python {python}" in done.stderr
        after = versions(python)
        assert {name: "0.1.0" for name in EXPECTED_REQUIREMENTS} == {
            name: after.get(name) for name in EXPECTED_REQUIREMENTS
        }
        assert before == {name: after[name] for name in before}
        assert "spanwise-instrumentation-structlog" not in after


class TestBootstrapPip:
    def test_installs_with_pip_in_a_venv_environment(self, tmp_path: Path, wheels: Path) -> None:
        """In an environment made by python -m venv, pip installs the plugins and keeps the
        user's versions; a second run has nothing to install."""
        assert UV is not None
        venv = tmp_path / "venv"
        base = getattr(sys, "_base_executable", sys.executable)
        run(base, "-m", "venv", venv)
        python = venv / "bin" / "python"
        # Filling the environment is not under test: uv does it faster than pip.
        run(UV, "pip", "install", "-q", "--python", python, "--find-links", wheels,
            "flask==3.0.3", "spanwise-distro")  # fmt: skip
        before = versions(python)
        env = bootstrap_env(venv)

        done = run(venv / "bin" / "spanwise-bootstrap", "-a", "install", "--", "--find-links",
                   wheels, env=env)  # fmt: skip
        assert f"{python} -m pip install -c" in done.stderr
        after = versions(python)
        expected = {
            "spanwise-instrumentation-flask": "0.1.0",
            "spanwise-instrumentation-logging": "0.1.0",
            "spanwise-instrumentation-requests": "0.1.0",
            "spanwise-instrumentation-redis": None,
        }
        assert expected == {name: after.get(name) for name in expected}
        assert before == {name: after[name] for name in before}

        again = run(venv / "bin" / "spanwise-bootstrap", "-a", "install", env=env)
        assert "nothing to install" in again.stderr
