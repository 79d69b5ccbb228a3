"""Nox sessions for the Spanwise workspace.

    nox -s lint types tests      # what CI runs through the README test command, per package
    nox -s matrix                # the slow version matrix: oldest and newest of each plugin's
                                 # declared range, on every Python 3.10-3.13 present
    nox -s sdk_oldest            # spanwise-core against the oldest OpenTelemetry SDK it declares
    nox -s e2e bench docs

The supported range of each plugin is read from its pyproject's ``instruments`` extra, the one
place it is written; nothing here repeats it.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "types", "tests"]

ROOT = Path(__file__).parent
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
PYTHONS = [v for v in ("3.10", "3.11", "3.12", "3.13") if shutil.which(f"python{v}")] or None
TEST_DEPS = ["pytest>=8", "pytest-timeout", "hypothesis"]
# What each plugin's tests need besides the library under test: its servers, clients and
# drivers, unpinned, so they resolve around the pinned library. Installing the whole ``libs``
# group instead makes old pins unsatisfiable (requests 2.25 against ``requests>=2.28``) or drags
# in libraries that conflict with them; a package missing here still gets the whole group.
PACKAGE_TEST_DEPS: dict[str, list[str]] = {
    "instrumentation-celery": ["celery[redis]"],
    "instrumentation-confluent-kafka": [],
    "instrumentation-django": ["requests", "gunicorn", "uvicorn"],
    "instrumentation-fastapi": ["httpx", "uvicorn", "websockets"],
    "instrumentation-flask": ["requests", "gunicorn"],
    "instrumentation-redis": [],
    "instrumentation-requests": [],
    "instrumentation-sqlalchemy": ["aiosqlite", "asyncpg", "psycopg[binary]", "greenlet"],
    "instrumentation-structlog": [],
}
# Extra test dependencies for the oldest bound only: clients the old library cannot drive in
# their newest version.
OLDEST_TEST_DEPS: dict[str, list[str]] = {
    # Starlette 0.27's TestClient passes app= to httpx.Client, which httpx 0.28 removed.
    "instrumentation-fastapi": ["httpx<0.28"],
    # Flask 2.2 imports werkzeug.urls.url_quote, removed in Werkzeug 3 (Flask 2.2 sets no cap).
    "instrumentation-flask": ["werkzeug<3"],
    # Celery 5.3 accepts any kombu 5.x, but newer kombu's Redis transport needs redis-py 6.1
    # while Celery 5.3's redis extra caps redis-py below 6: use the kombu of Celery 5.3's time.
    "instrumentation-celery": ["kombu~=5.3.0"],
}
# Printed by each matrix session, so its log says which versions were actually tested.
VERSIONS = (
    "import sys; from importlib.metadata import version; "
    "print('tested against', ', '.join(f'{n} {version(n)}' for n in sys.argv[1:]))"
)


def metadata(package: str) -> dict:  # type: ignore[type-arg]
    with open(ROOT / "packages" / package / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]  # type: ignore[no-any-return]


def instruments(package: str) -> list[str]:
    """The plugin's supported range: its ``instruments`` extra."""
    return list(metadata(package).get("optional-dependencies", {}).get("instruments", []))


def bounds(requirement: str) -> tuple[str, str]:
    """``flask>=2.2,<4`` gives ``flask~=2.2.0`` (oldest) and ``flask>=2.2,<4`` (newest allowed)."""
    name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
    lower = re.search(r">=\s*([\w.]+)", requirement)
    if lower is None:
        raise ValueError(f"{requirement}: a plugin range needs a lower bound")
    parts = lower.group(1).split(".")
    oldest = f"{name}~={'.'.join(parts[:2])}.0" if len(parts) >= 2 else f"{name}=={parts[0]}.*"
    return oldest, requirement


def libs_group() -> list[str]:
    """The root's ``libs`` group: the libraries and servers the plugin tests run against."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        return list(tomllib.load(f)["dependency-groups"]["libs"])


def install_workspace_package(session: nox.Session, package: str, extra: str = "") -> None:
    session.install("-e", str(ROOT / "packages" / "core"))
    if package != "core":
        session.install("-e", f"{ROOT / 'packages' / package}{extra}")


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=False)
def types(session: nox.Session) -> None:
    """mypy --strict on every package's src."""
    modules = []
    for package in PACKAGES:
        src = ROOT / "packages" / package / "src"
        # The distribution's own package is the one holding py.typed.
        for marker in sorted(src.rglob("py.typed")):
            modules += ["-p", ".".join(marker.parent.relative_to(src).parts)]
    session.run("mypy", *modules)


@nox.session(python=False)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests, in the workspace environment."""
    session.run("pytest", f"packages/{package}/tests", *session.posargs)


@nox.session(python=PYTHONS)
@nox.parametrize("package", [p for p in PACKAGES if instruments(p)])
@nox.parametrize("bound", ["oldest", "newest"])
def matrix(session: nox.Session, package: str, bound: str) -> None:
    """A plugin's tests against the oldest and newest versions of its declared range."""
    pins = [bounds(r)[0 if bound == "oldest" else 1] for r in instruments(package)]
    install_workspace_package(session, package)
    # The pins win: the test dependencies resolve around them.
    deps = [*TEST_DEPS, *PACKAGE_TEST_DEPS.get(package, libs_group())]
    if bound == "oldest":
        deps += OLDEST_TEST_DEPS.get(package, [])
    session.install(*deps, *pins)
    names = [re.split(r"[<>=!~ \[;]", pin, maxsplit=1)[0] for pin in pins]
    session.run("python", "-c", VERSIONS, *names)
    session.run("pytest", f"packages/{package}/tests", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python="3.11")
def sdk_oldest(session: nox.Session) -> None:
    """spanwise-core's tests against the oldest OpenTelemetry API, SDK and exporters it declares
    (core reaches into SDK internals on its fast paths: the lower bound must be tested too)."""
    core = metadata("core")
    requirements = [*core["dependencies"], *core["optional-dependencies"]["export"]]
    requirements += core["optional-dependencies"]["testing"]
    pins = [bounds(r)[0] for r in requirements if r.startswith("opentelemetry")]
    session.install("-e", f"{ROOT / 'packages' / 'core'}[export,testing]")
    session.install(*TEST_DEPS, "pyyaml", "grpcio", *pins)
    names = [re.split(r"[<>=!~ \[;]", pin, maxsplit=1)[0] for pin in pins]
    session.run("python", "-c", VERSIONS, *names)
    session.run("pytest", "packages/core/tests", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=False)
def e2e(session: nox.Session) -> None:
    """Cross-process tests: several services, one trace."""
    session.run("pytest", "tests", *session.posargs)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """bare vs contrib vs Spanwise; writes bench/results.json."""
    session.run("python", "bench/run.py", *session.posargs)


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """Run every Python and YAML example in docs/."""
    session.run("pytest", "docs", *session.posargs)
