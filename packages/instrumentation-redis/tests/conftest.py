"""Fixtures for the redis plugin: an instrumented session and a real 3-node loopback cluster."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from spanwise.core.testing import free_port, wait_for_port
from spanwise.instrumentation.redis import RedisInstrumentor


@pytest.fixture
def instrumentor() -> Iterator[RedisInstrumentor]:
    """The instrumentor, not instrumented; whatever a test turns on is turned off after it."""
    inst = RedisInstrumentor()
    inst.uninstrument()
    yield inst
    inst.uninstrument()
    for client_id in list(inst._client_patchers):
        inst._client_patchers.pop(client_id).restore()


@pytest.fixture
def client(redis_server: object) -> Iterator[redis.Redis]:
    """A sync client of the session's real redis-server (made before instrument())."""
    c = redis.Redis(host=redis_server.host, port=redis_server.port)  # type: ignore[attr-defined]
    yield c
    c.close()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """Three real redis-server nodes in cluster mode on loopback, slots assigned; their ports."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.skip("redis-server / redis-cli not installed")
    base: Path = tmp_path_factory.mktemp("cluster")
    ports = [free_port() for _ in range(3)]
    procs = []
    try:
        for port in ports:
            workdir = base / str(port)
            workdir.mkdir()
            procs.append(
                subprocess.Popen(
                    [server, "--port", str(port), "--bind", "127.0.0.1",
                     "--cluster-enabled", "yes", "--cluster-port", str(free_port()),
                     "--cluster-config-file", str(workdir / "nodes.conf"),
                     "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                     "--dir", str(workdir)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        for port in ports:
            wait_for_port(port, timeout=10)
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            # redis-cli, not redis-py: the fixture may start inside an instrumented test.
            info = [
                subprocess.run(
                    [cli, "-p", str(p), "cluster", "info"], capture_output=True, timeout=5
                ).stdout
                for p in ports
            ]
            if all(b"cluster_state:ok" in i for i in info):
                break
            if time.monotonic() > deadline:
                pytest.fail("the loopback cluster did not reach cluster_state:ok in 30 s")
            time.sleep(0.2)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
