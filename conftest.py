"""Session fixtures for the real servers our tests talk to, shared by every package.

Each starts a real Debian server binary on a free 127.0.0.1 port and stops it at the end of
the session. Where the binary is missing the tests that need it are skipped locally, but fail
under CI (``CI=true``), where the README test command installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spanwise.core.testing import free_port, wait_for_port


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed; the README test command installs it")
    pytest.skip(f"{what} is not installed")


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"


def _find(binary: str, *extra_dirs: str) -> str | None:
    found = shutil.which(binary)
    if found:
        return found
    for d in extra_dirs:
        for candidate in sorted(Path("/").glob(d.lstrip("/")), reverse=True):
            if (candidate / binary).exists():
                return str(candidate / binary)
    return None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real redis-server on a free loopback port (no persistence)."""
    binary = _find("redis-server")
    if binary is None:
        _missing("redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield Server("127.0.0.1", port)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    database: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """A real PostgreSQL server in a temporary data directory on a free loopback port."""
    initdb = _find("initdb", "/usr/lib/postgresql/*/bin")
    pg_ctl = _find("pg_ctl", "/usr/lib/postgresql/*/bin")
    if initdb is None or pg_ctl is None:
        _missing("PostgreSQL (initdb, pg_ctl)")
    # Not under pytest's tmp tree: that is private to root, and PostgreSQL runs as nobody.
    base = Path(tempfile.mkdtemp(prefix="spanwise-pg-"))
    data = base / "data"
    port = free_port()
    env = dict(os.environ)
    run_as: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: run it as nobody in a directory nobody owns.
        run_as = ["runuser", "-u", "nobody", "--"]
        os.chmod(base, 0o777)
    else:
        os.chmod(base, 0o700)
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    sockdir = base / "sock"
    sockdir.mkdir()
    os.chmod(sockdir, 0o777)
    log = base / "log.txt"
    subprocess.run(
        [*run_as, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "30", "-o",
         f"-h 127.0.0.1 -p {port} -k {sockdir} -F", "start"],
        check=True, capture_output=True, env=env, cwd=str(base),
    )  # fmt: skip
    try:
        wait_for_port(port)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # The port accepts before the server accepts logins; give it a moment.
            probe = subprocess.run(
                [*run_as, _find("psql", "/usr/lib/postgresql/*/bin") or "psql", "-h", "127.0.0.1",
                 "-p", str(port), "-U", "postgres", "-c", "select 1", "postgres"],
                capture_output=True, cwd=str(base),
            )  # fmt: skip
            if probe.returncode == 0:
                break
            time.sleep(0.2)
        yield Postgres("127.0.0.1", port, "postgres", "postgres")
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, cwd=str(base),
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
