"""A real Prometheus server (Debian package ``prometheus``) with exemplar storage switched on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spanwise.core.testing import free_port, wait_for_port


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed; the README test command installs it")
    pytest.skip(f"{what} is not installed")


@dataclass
class Prometheus:
    """A running Prometheus; :meth:`scrape` points it at a target (every second)."""

    binary: str
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def scrape(self, target: str) -> None:
        config = self.workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: app\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={config}",
             f"--storage.tsdb.path={self.workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--enable-feature=exemplar-storage", "--log.level=warn"],
            stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "prometheus.log").open("wb"),
        )  # fmt: skip
        wait_for_port(self.port, timeout=20)
        self.poll(self._ready, timeout=20)

    def _ready(self) -> bool:
        """Prometheus listens before its storage is up and answers 503 until it is."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                return True
        except OSError:
            return False

    def api(self, path: str, **params: Any) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
        assert "success" == body["status"], body
        return body["data"]

    def poll(self, fetch: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Call *fetch* until it returns something truthy; fail with the log after *timeout*."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = fetch()
            if found:
                return found
            time.sleep(0.5)
        log = (self.workdir / "prometheus.log").read_text(errors="replace")[-2000:]
        raise AssertionError(f"Prometheus had nothing after {timeout}s; its log:\n{log}")


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    """A Prometheus 2.x on a free loopback port, storing its data under ``tmp_path``."""
    binary = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )
    if binary is None:
        _missing("prometheus")
    server = Prometheus(binary, tmp_path)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        if server.proc is not None:
            server.proc.terminate()
            try:
                server.proc.wait(10)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(5)
