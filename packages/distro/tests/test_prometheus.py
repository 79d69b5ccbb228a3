"""The fork-aware Prometheus endpoint: one process per port, honest after fork()."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import urllib.request

from opentelemetry.sdk.metrics import MeterProvider

from spanwise.core.testing import free_port
from spanwise.distro._prometheus import ForkAwarePrometheusReader


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()  # type: ignore[no-any-return]


def total(body: str, name: str = "jobs_total") -> float | None:
    """The value of the one sample of *name* in a text exposition."""
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def free_pair() -> int:
    """A port p with p+1 free too (checked, not guaranteed)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no pair of free ports")


class TestForkAwarePrometheusReader:
    def test_serves_on_configured_port(self) -> None:
        """The reader serves /metrics on the configured host and port."""
        port = free_port()
        reader = ForkAwarePrometheusReader("127.0.0.1", port)
        provider = MeterProvider(metric_readers=[reader])
        try:
            provider.get_meter("m").create_counter("jobs").add(3)
            assert (port, 3.0) == (reader.port, total(scrape(port)))
        finally:
            provider.shutdown()

    def test_per_worker_takes_next_free_port(self) -> None:
        """With one port per worker, a busy configured port means the next one."""
        port = free_pair()
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", port))
            busy.listen()
            reader = ForkAwarePrometheusReader("127.0.0.1", port, port_per_worker=True)
            provider = MeterProvider(metric_readers=[reader])
            try:
                assert port + 1 == reader.port
            finally:
                provider.shutdown()


FORK_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, urllib.request, logging
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from opentelemetry.sdk.metrics import MeterProvider
    from spanwise.distro._prometheus import ForkAwarePrometheusReader

    def jobs(port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            lines = r.read().decode().splitlines()
        return [float(l.rsplit(" ", 1)[1]) for l in lines if l.startswith("jobs_total")]

    port, per_worker = int(sys.argv[1]), sys.argv[2] == "true"
    reader = ForkAwarePrometheusReader("127.0.0.1", port, port_per_worker=per_worker)
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("m").create_counter("jobs")
    counter.add(1)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        counter.add(10)  # the child's own measurements
        child_port = reader.port
        os.write(write, json.dumps([child_port, jobs(child_port) if child_port else []]).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = json.loads(os.read(read, 65536))
    print(json.dumps({"child": child, "parent": [reader.port, jobs(port)]}))
    """
)


def run_fork(port: int, per_worker: bool) -> tuple[dict[str, list[object]], str]:
    proc = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT, str(port), "true" if per_worker else "false"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == proc.returncode, proc.stderr
    return json.loads(proc.stdout), proc.stderr


class TestAfterFork:
    def test_default_parent_keeps_serving_child_says_so(self) -> None:
        """By default the parent keeps the endpoint (still scrapeable after the child closed
        its copy of the socket); the forked child serves nothing and warns once."""
        port = free_port()
        out, stderr = run_fork(port, per_worker=False)
        assert {"child": [None, []], "parent": [port, [1.0]]} == out
        assert 1 == stderr.count("metrics of forked process")

    def test_per_worker_child_serves_its_own_metrics(self) -> None:
        """With one port per worker the child serves its own metrics on the next port."""
        port = free_pair()
        out, _ = run_fork(port, per_worker=True)
        assert {"child": [port + 1, [11.0]], "parent": [port, [1.0]]} == out
