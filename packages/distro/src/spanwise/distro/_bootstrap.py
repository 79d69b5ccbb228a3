"""``spanwise-bootstrap``: find the installed libraries we support and list or install their
plugins, never changing the versions of the user's own libraries."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ._catalog import CATALOG, CatalogEntry

__all__ = ["Plan", "installed_distributions", "installer_command", "main", "plan", "uv_environment"]


@dataclass(frozen=True)
class Plan:
    """What bootstrap would do: ``install`` are (plugin, reason) pairs, ``present`` plugins
    already installed, ``skipped`` (plugin, reason) pairs for libraries outside the range.

    .. versionadded:: 0.1.0
    """

    install: tuple[tuple[str, str], ...]
    present: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]

    @property
    def requirements(self) -> list[str]:
        """Every plugin the environment should have (to install or already there)."""
        return sorted({name for name, _ in self.install} | {name for name, _ in self.present})


def installed_distributions() -> dict[str, str]:
    """Canonical name -> version of every distribution in this environment."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and dist.version:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def _fits(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def _decide(entry: CatalogEntry, installed: Mapping[str, str]) -> tuple[str, str] | None:
    """(``install``|``skip``, reason), or ``None`` when the plugin's library is absent."""
    if not entry.instruments:
        return "install", "instruments the standard library"
    for line in entry.instruments:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            return "skip", f"unreadable requirement {line!r}"
        version = installed.get(canonicalize_name(req.name))
        if version is None:
            return None
        if not _fits(req, version):
            wanted = line.strip()[len(req.name) :].strip()
            return "skip", f"{req.name} {version} is outside the supported range {wanted}"
    libs = ", ".join(
        f"{Requirement(line).name} {installed[canonicalize_name(Requirement(line).name)]}"
        for line in entry.instruments
    )
    return "install", f"{libs} is installed (supported: {', '.join(entry.instruments)})"


def plan(
    installed: Mapping[str, str] | None = None, catalog: Iterable[CatalogEntry] = CATALOG
) -> Plan:
    """Decide which plugins suit the installed libraries.

    .. versionadded:: 0.1.0
    """
    have = installed_distributions() if installed is None else installed
    install: list[tuple[str, str]] = []
    present: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for entry in catalog:
        decision = _decide(entry, have)
        if decision is None:
            continue
        action, reason = decision
        if action == "skip":
            skipped.append((entry.distribution, reason))
        elif canonicalize_name(entry.distribution) in have:
            present.append((entry.distribution, reason))
        else:
            install.append((entry.distribution, reason))
    return Plan(tuple(install), tuple(present), tuple(skipped))


def uv_environment(prefix: str | None = None) -> bool:
    """Whether the environment was made by uv (its ``pyvenv.cfg`` names uv)."""
    cfg = os.path.join(prefix or sys.prefix, "pyvenv.cfg")
    try:
        with open(cfg, encoding="utf-8") as f:
            return any(line.split("=", 1)[0].strip() == "uv" for line in f)
    except OSError:
        return False


def _has_pip() -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    return probe.returncode == 0


def installer_command(installer: str) -> list[str]:
    """The install command for *installer* (``auto``, ``pip`` or ``uv``) in this environment."""
    if installer == "auto":
        uv_ok = shutil.which("uv") is not None
        installer = "uv" if uv_ok and (uv_environment() or not _has_pip()) else "pip"
    if installer == "uv":
        uv = shutil.which("uv")
        if uv is None:
            raise SystemExit("spanwise-bootstrap: uv was chosen but is not on PATH")
        return [uv, "pip", "install", "--python", sys.executable]
    return [sys.executable, "-m", "pip", "install"]


def _explain(result: Plan) -> None:
    for name, reason in result.install:
        print(f"spanwise-bootstrap: will install {name}: {reason}", file=sys.stderr)
    for name, reason in result.present:
        print(f"spanwise-bootstrap: {name} is already installed ({reason})", file=sys.stderr)
    for name, reason in result.skipped:
        print(f"spanwise-bootstrap: skipped {name}: {reason}", file=sys.stderr)


def _install(result: Plan, installer: str, extra: Sequence[str]) -> int:
    if not result.install:
        print("spanwise-bootstrap: nothing to install", file=sys.stderr)
        return 0
    before = installed_distributions()
    command = installer_command(installer)
    with tempfile.TemporaryDirectory(prefix="spanwise-bootstrap-") as tmp:
        constraints = os.path.join(tmp, "constraints.txt")
        with open(constraints, "w", encoding="utf-8") as f:
            # Pin everything already installed: the user's libraries keep their versions.
            f.writelines(f"{name}=={version}\n" for name, version in sorted(before.items()))
        argv = [*command, "-c", constraints, *(name for name, _ in result.install), *extra]
        print("spanwise-bootstrap: running " + " ".join(argv), file=sys.stderr)
        code = subprocess.run(argv, check=False).returncode
    if code != 0:
        print(f"spanwise-bootstrap: the installer failed (exit {code})", file=sys.stderr)
        return code
    after = installed_distributions()
    changed = sorted(
        f"{name} {before[name]} -> {after.get(name)}"
        for name in before
        if after.get(name) != before[name]
    )
    if changed:
        print("spanwise-bootstrap: versions changed: " + ", ".join(changed), file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``spanwise-bootstrap``.

    Arguments after ``--`` go to the installer (for example ``-- --find-links DIR``).

    .. versionadded:: 0.1.0
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, extra = args_list[:cut], args_list[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="spanwise-bootstrap",
        description="List (-a requirements) or install (-a install) the Spanwise plugins for "
        "the libraries installed in this environment. Arguments after -- go to the installer.",
    )
    parser.add_argument(
        "-a", "--action", choices=("requirements", "install"), default="requirements"
    )
    parser.add_argument(
        "--installer",
        choices=("auto", "pip", "uv"),
        default="auto",
        help="auto: uv when the environment was made by uv, else pip",
    )
    args = parser.parse_args(args_list)
    result = plan()
    _explain(result)
    if args.action == "requirements":
        for name in result.requirements:
            print(name)
        return 0
    return _install(result, args.installer, extra)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
