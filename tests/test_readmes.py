"""Every package README's quick start runs: its Python blocks, in order, in a fresh interpreter.

Servers the examples talk to are real and local: redis-server, librdkafka's mock cluster and a
plain HTTP server; their addresses reach the examples through the variables the READMEs read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
READMES = sorted((ROOT / "packages").glob("*/README.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def kafka_bootstrap() -> Iterator[str]:
    from confluent_kafka import Producer

    holder = Producer({"test.mock.num.brokers": 1, "log_level": 0})
    broker = next(iter(holder.list_topics(timeout=10).brokers.values()))
    yield f"{broker.host}:{broker.port}"
    holder.flush(2)


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_quick_start_runs(readme: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The README's Python blocks run, in order, and exit cleanly."""
    code = "\n".join(BLOCK.findall(readme.read_text()))
    if not code.strip():
        pytest.skip("no Python blocks (a shell-only quick start)")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPANWISE_", "DJANGO_"))
    }
    if "REDIS_URL" in code:
        env["REDIS_URL"] = request.getfixturevalue("redis_server").url + "/0"
    if "SERVICE_URL" in code:
        env["SERVICE_URL"] = request.getfixturevalue("http_url")
    if "KAFKA_BOOTSTRAP" in code:
        env["KAFKA_BOOTSTRAP"] = request.getfixturevalue("kafka_bootstrap")
    script = tmp_path / "quick_start.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert 0 == proc.returncode, proc.stdout[-2000:] + proc.stderr[-3000:]
