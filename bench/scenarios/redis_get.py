"""One redis-py GET of a short string over loopback from a sync client."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from typing import Any

NAME = "redis_get"
CONTRIB = "opentelemetry.instrumentation.redis"
HANDMADE = True

_server: subprocess.Popen[bytes] | None = None
_workdir: str | None = None


def _port() -> int:
    """The runner's redis-server (SPANWISE_BENCH_REDIS_PORT), else one started here."""
    global _server, _workdir
    given = os.environ.get("SPANWISE_BENCH_REDIS_PORT")
    if given:
        return int(given)
    from spanwise.core.testing import free_port, wait_for_port

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed and SPANWISE_BENCH_REDIS_PORT is unset")
    port = free_port()
    _workdir = tempfile.mkdtemp(prefix="spanwise-bench-redis-")
    _server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", _workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for_port(port)
    return port


def make(variant: str) -> Callable[[], object]:
    import redis

    if variant == "contrib":
        from opentelemetry.instrumentation.redis import RedisInstrumentor as Contrib

        Contrib().instrument()
    elif variant == "spanwise":
        from spanwise.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor().instrument()
    elif variant not in ("bare", "handmade"):
        raise ValueError(f"unknown variant {variant!r}")
    port = _port()
    client = redis.Redis(host="127.0.0.1", port=port)
    client.set("bench:key", "value")
    op: Callable[[], object] = lambda: client.get("bench:key")  # noqa: E731
    if variant == "handmade":
        op = _by_hand(client, port)
    for _ in range(200):
        op()
    return op


def _by_hand(client: Any, port: int) -> Callable[[], object]:
    """The same span and metric point as Spanwise's, written at the call site."""
    import _handmade
    from opentelemetry.trace import SpanKind

    tracer = _handmade.tracer()
    duration = _handmade.histogram("db.client.operation.duration", _handmade.DB_BUCKETS)
    metric_attrs = {
        "db.system.name": "redis",
        "db.operation.name": "GET",
        "db.namespace": "0",
        "server.address": "127.0.0.1",
        "server.port": port,
    }
    span_attrs = {**metric_attrs, "db.query.text": "GET bench:key"}
    get, perf_counter = client.get, _handmade.perf_counter

    def op() -> object:
        span = tracer.start_span("GET", kind=SpanKind.CLIENT, attributes=span_attrs)
        start = perf_counter()
        try:
            return get("bench:key")
        finally:
            span.end()
            duration.record(perf_counter() - start, metric_attrs)

    return op


def teardown() -> None:
    global _server
    if _server is not None:
        _server.terminate()
        try:
            _server.wait(10)
        except subprocess.TimeoutExpired:
            _server.kill()
        _server = None
    if _workdir is not None:
        shutil.rmtree(_workdir, ignore_errors=True)
