"""``spanwise``: the umbrella command (``spanwise doctor``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from ._doctor import run_doctor

__all__ = ["main"]


def _version() -> str:
    try:
        return metadata.version("spanwise-distro")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``spanwise``.

    .. versionadded:: 0.1.0
    """
    parser = argparse.ArgumentParser(prog="spanwise", description="Spanwise tools.")
    parser.add_argument("--version", action="version", version=f"spanwise-distro {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "doctor",
        help="show what is installed, what would be instrumented and the effective "
        "configuration; exit 1 when telemetry would not flow",
    )
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command == "doctor":
        return run_doctor()
    return 2  # pragma: no cover  (argparse rejects other commands)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
