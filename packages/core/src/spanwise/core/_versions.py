"""Supported library ranges, read from the one place they are written: the plugin's metadata."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

__all__ = ["LibraryCheck", "check_library", "supported_requirements"]

INSTRUMENTS_EXTRA = "instruments"


@cache
def supported_requirements(distribution: str) -> tuple[Requirement, ...]:
    """The requirements of *distribution*'s ``instruments`` extra (the supported libraries).

    Returns an empty tuple when the distribution is not installed or declares no such extra
    (for example a plugin for the standard library).

    .. versionadded:: 0.1.0
    """
    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return ()
    found: list[Requirement] = []
    for line in requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and req.marker.evaluate({"extra": INSTRUMENTS_EXTRA}):
            marker_text = str(req.marker)
            if "extra" in marker_text:
                req.marker = None
                found.append(req)
    return tuple(found)


@dataclass(frozen=True)
class LibraryCheck:
    """The outcome of comparing installed libraries with a plugin's supported range."""

    ok: bool
    problems: tuple[str, ...] = ()
    installed: tuple[tuple[str, str | None], ...] = ()


def check_library(distribution: str) -> LibraryCheck:
    """Is every library in *distribution*'s ``instruments`` extra installed within range?

    .. versionadded:: 0.1.0
    """
    problems: list[str] = []
    installed: list[tuple[str, str | None]] = []
    for req in supported_requirements(distribution):
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            installed.append((req.name, None))
            problems.append(f"{req.name} is not installed (supported: {req.specifier})")
            continue
        installed.append((req.name, version))
        try:
            inside = req.specifier.contains(Version(version), prereleases=True)
        except InvalidVersion:
            inside = False
        if not inside:
            problems.append(f"{req.name} {version} is outside the supported range {req.specifier}")
    return LibraryCheck(not problems, tuple(problems), tuple(installed))
