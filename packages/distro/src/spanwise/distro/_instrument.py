"""``spanwise-instrument [options] COMMAND [ARGS...]``: run a program auto-instrumented.

Each option sets the standard variable it names (options win over the environment); the
directory of our ``sitecustomize`` is prepended to ``PYTHONPATH`` and the process is replaced
by the command, so the program and every Python child process it starts are instrumented.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence

from ._autoinit import AUTO_DIR
from ._settings import OVERRIDES

__all__ = ["build_environment", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The command-line parser: one option per variable in ``OVERRIDES``."""
    p = argparse.ArgumentParser(
        prog="spanwise-instrument",
        description="Run COMMAND with Spanwise auto-instrumentation and the OpenTelemetry SDK "
        "configured from OTEL_* variables (each option below sets the variable it names).",
    )
    for key, var in OVERRIDES.items():
        p.add_argument("--" + key.replace("_", "-"), dest=key, metavar="VALUE", help=f"sets {var}")
    p.add_argument("command", help="the program to run (looked up on PATH)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    return p


def build_environment(options: argparse.Namespace, environ: dict[str, str]) -> dict[str, str]:
    """The child's environment: *environ*, the options' variables, our ``PYTHONPATH`` first."""
    env = dict(environ)
    for key, var in OVERRIDES.items():
        value = getattr(options, key, None)
        if value is not None:
            env[var] = value
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != AUTO_DIR]
    env["PYTHONPATH"] = os.pathsep.join([AUTO_DIR, *parts])
    return env


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``spanwise-instrument``; on success it does not return."""
    options = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    env = build_environment(options, dict(os.environ))
    executable = shutil.which(options.command, path=env.get("PATH"))
    if executable is None:
        print(f"spanwise-instrument: command not found: {options.command}", file=sys.stderr)
        return 127
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(executable, [options.command, *options.args], env)
    return 0  # pragma: no cover  (execve does not return)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
