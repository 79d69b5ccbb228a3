"""The checkout incident, end to end: a small shop traced by Spanwise, then worked like an
engineer on call would: metrics, an exemplar, the trace, the logs.

Services, each a real process started under ``spanwise-instrument`` (no tracing code in them):

    gateway (Flask, gunicorn) -> checkout (FastAPI, uvicorn) -> inventory (Django, gunicorn)
    checkout -> SQLite (SQLAlchemy), Redis cache, Kafka "order_events"
    fulfillment (Kafka consumer) -> Celery task on the Redis broker -> worker

Telemetry goes over OTLP/HTTP to a collector embedded here (and on to
``OTEL_EXPORTER_OTLP_ENDPOINT`` too, when you set it). Kafka is librdkafka's mock cluster; Redis
is a local ``redis-server`` when installed, else the cache and the Celery worker are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from spanwise.core.export import format_duration, format_trace_tree
from spanwise.core.testing import OtlpReceiver, SpanRecord, free_port, wait_for_port

HERE = Path(__file__).resolve().parent
ROUTE = "/api/checkout"


# -- the embedded collector ---------------------------------------------------------------


class Forwarder:
    """Sends every OTLP payload on to the user's endpoint too (bounded queue, never blocks)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.queue: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=1000)
        self.sent = self.failed = self.dropped = 0
        threading.Thread(target=self._run, daemon=True).start()

    def offer(self, path: str, body: bytes) -> None:
        try:
            self.queue.put_nowait((path, body))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while True:
            path, body = self.queue.get()
            request = urllib.request.Request(
                self.endpoint + path, body, {"Content-Type": "application/x-protobuf"}
            )
            try:
                urllib.request.urlopen(request, timeout=5).close()
                self.sent += 1
            except OSError:
                self.failed += 1
            finally:
                self.queue.task_done()

    def drain(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)


# -- services --------------------------------------------------------------------------------


class Shop:
    def __init__(self, workdir: Path, collector: str, seed: int) -> None:
        self.workdir = workdir
        self.collector = collector
        self.seed = seed
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports = {name: free_port() for name in ("gateway", "checkout", "inventory")}
        self.redis_url = ""
        self.kafka_holder: Any = None
        self.kafka_bootstrap = ""

    def env(self, service: str) -> dict[str, str]:
        env = dict(os.environ)
        for key in [k for k in env if k.startswith("OTEL_")]:
            del env[key]
        env.update(
            {
                "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(
                    os.pathsep
                ),
                "OTEL_SERVICE_NAME": service,
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=demo,service.namespace=shop",
                "OTEL_EXPORTER_OTLP_ENDPOINT": self.collector,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_METRIC_EXPORT_INTERVAL": "1000",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "OTEL_LOGS_EXPORTER": "none",
                "DEMO_LOG_DIR": str(self.workdir),
                "DEMO_DB": str(self.workdir / "orders.db"),
                "DEMO_SEED": str(self.seed),
                "CHECKOUT_URL": f"http://127.0.0.1:{self.ports['checkout']}",
                "INVENTORY_URL": f"http://127.0.0.1:{self.ports['inventory']}",
                "REDIS_URL": self.redis_url,
                "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            }
        )
        return env

    def start(self, service: str, *command: str) -> None:
        log = open(self.workdir / f"{service}.out", "wb")  # noqa: SIM115 - closed with the process
        instrument = shutil.which("spanwise-instrument", path=str(Path(sys.executable).parent))
        self.procs[service] = subprocess.Popen(
            [instrument or "spanwise-instrument", *command],
            cwd=HERE,
            env=self.env(service),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def up(self) -> list[str]:
        notes: list[str] = []
        redis_server = shutil.which("redis-server")
        if redis_server:
            port = free_port()
            self.procs["redis"] = subprocess.Popen(
                [
                    redis_server,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_for_port(port)
            self.redis_url = f"redis://127.0.0.1:{port}/0"
        else:
            notes.append(
                "Redis is not installed, so the cache and the Celery worker are left out. "
                "Add them with: sudo apt-get install redis-server"
            )
        from confluent_kafka import Producer

        self.kafka_holder = Producer({"test.mock.num.brokers": 1, "log_level": 0})
        broker = next(iter(self.kafka_holder.list_topics(timeout=10).brokers.values()))
        self.kafka_bootstrap = f"{broker.host}:{broker.port}"

        bin_dir = Path(sys.executable).parent
        gunicorn, uvicorn = str(bin_dir / "gunicorn"), str(bin_dir / "uvicorn")
        self.start(
            "inventory",
            gunicorn,
            "-w",
            "1",
            "--threads",
            "16",
            "-b",
            f"127.0.0.1:{self.ports['inventory']}",
            "--log-level",
            "warning",
            "inventory:application",
        )
        self.start(
            "checkout",
            uvicorn,
            "checkout:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.ports["checkout"]),
            "--log-level",
            "warning",
        )
        self.start(
            "gateway",
            gunicorn,
            "-w",
            "1",
            "--threads",
            "16",
            "-b",
            f"127.0.0.1:{self.ports['gateway']}",
            "--log-level",
            "warning",
            "gateway:app",
        )
        self.start("fulfillment", sys.executable, "fulfillment.py")
        if self.redis_url:
            celery = str(bin_dir / "celery")
            self.start(
                "worker",
                celery,
                "-A",
                "tasks",
                "worker",
                "--pool",
                "threads",
                "-c",
                "4",
                "-l",
                "warning",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            )
        for name, port in self.ports.items():
            try:
                wait_for_port(port, timeout=60)
            except TimeoutError:
                raise SystemExit(
                    f"{name} did not start; see {self.workdir / (name + '.out')}"
                ) from None
        return notes

    def down(self) -> None:
        order = ["gateway", "checkout", "inventory", "fulfillment", "worker", "redis"]
        for name in order:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM) if name != "redis" else proc.terminate()
            except ProcessLookupError:
                continue
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL) if name != "redis" else proc.kill()
        if self.kafka_holder is not None:
            self.kafka_holder.flush(2)


# -- traffic -----------------------------------------------------------------------------------


def drive(port: int, count: int, concurrency: int, seed: int) -> dict[int, int]:
    rng = random.Random(seed)
    carts = [
        {
            "user_id": f"user-{rng.randint(1, 500)}",
            "items": [
                {
                    "sku": f"SKU-{rng.randint(100, 999)}",
                    "qty": rng.randint(1, 3),
                    "price_cents": rng.randint(200, 9000),
                }
                for _ in range(rng.randint(1, 4))
            ],
        }
        for _ in range(count)
    ]
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def one(cart: dict[str, Any]) -> None:
        body = json.dumps(cart).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{ROUTE}", body, {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        with lock:
            statuses[code] = statuses.get(code, 0) + 1

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, carts))
    return statuses


# -- the investigation ---------------------------------------------------------------------------


def gateway_points(rx: OtlpReceiver) -> list[Any]:
    """Every exported data point of http.server.request.duration for the gateway's route."""
    found = []
    for resource, _, metric in rx.snapshot().metrics:
        if (
            resource.get("service.name") != "gateway"
            or metric.name != "http.server.request.duration"
        ):
            continue
        for point in metric.histogram.data_points:
            attrs = {kv.key: kv.value for kv in point.attributes}
            if attrs.get("http.route") is not None and attrs["http.route"].string_value == ROUTE:
                found.append(point)
    return found


def latest_points(points: list[Any]) -> list[Any]:
    """The latest cumulative point of each attribute set."""
    latest: dict[tuple[Any, ...], Any] = {}
    for point in points:
        key = tuple(sorted((kv.key, str(kv.value)) for kv in point.attributes))
        if key not in latest or point.count >= latest[key].count:
            latest[key] = point
    return list(latest.values())


def status_of(point: Any) -> int:
    for kv in point.attributes:
        if kv.key == "http.response.status_code":
            return int(kv.value.int_value)
    return 0


def quantile(points: list[Any], q: float) -> float:
    bounds = list(points[0].explicit_bounds)
    counts = [0] * (len(bounds) + 1)
    for p in points:
        for i, c in enumerate(p.bucket_counts):
            counts[i] += c
    total = sum(counts)
    rank = q * total
    seen = 0
    for i, c in enumerate(counts):
        if seen + c >= rank and c:
            low = bounds[i - 1] if i > 0 else 0.0
            observed_max = max(p.max for p in points)
            high = min(bounds[i], observed_max) if i < len(bounds) else observed_max
            return low + (max(high, low) - low) * (rank - seen) / c
        seen += c
    return 0.0


def read_logs(workdir: Path) -> list[dict[str, Any]]:
    lines = []
    for path in sorted(workdir.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return sorted(lines, key=lambda d: d.get("timestamp", ""))


HOPS = {
    "HTTP gateway (Flask)": lambda s: (
        s.kind == "SERVER" and s.resource.get("service.name") == "gateway"
    ),
    "HTTP client (requests)": lambda s: (
        s.kind == "CLIENT" and "http.request.method" in s.attributes
    ),
    "HTTP checkout (FastAPI)": lambda s: (
        s.kind == "SERVER" and s.resource.get("service.name") == "checkout"
    ),
    "HTTP inventory (Django)": lambda s: (
        s.kind == "SERVER" and s.resource.get("service.name") == "inventory"
    ),
    "SQL (SQLAlchemy)": lambda s: s.attributes.get("db.system.name") == "sqlite",
    "Redis": lambda s: s.attributes.get("db.system.name") == "redis",
    "Kafka send": lambda s: (
        s.kind == "PRODUCER" and s.attributes.get("messaging.system") == "kafka"
    ),
    "Kafka process": lambda s: (
        s.kind == "CONSUMER" and s.attributes.get("messaging.system") == "kafka"
    ),
    "Celery publish": lambda s: (
        s.kind == "PRODUCER" and s.attributes.get("messaging.system") == "celery"
    ),
    "Celery run": lambda s: (
        s.kind == "CONSUMER" and s.attributes.get("messaging.system") == "celery"
    ),
}


def investigate(rx: OtlpReceiver, workdir: Path, with_redis: bool) -> bool:
    ok = True
    records = rx.span_records()
    by_trace: dict[int, list[SpanRecord]] = {}
    for r in records:
        by_trace.setdefault(r.trace_id, []).append(r)

    print("\nStep 1 — the metrics (http.server.request.duration, gateway, route /api/checkout)")
    every = gateway_points(rx)
    points = latest_points(every)
    if not points:
        print("  no metrics arrived")
        return False
    total = sum(p.count for p in points)
    errors = sum(p.count for p in points if status_of(p) >= 500)
    print(f"  requests {total}, 5xx {errors}: error rate {100 * errors / max(total, 1):.1f}%")
    p50, p99 = quantile(points, 0.50), quantile(points, 0.99)
    print(f"  p50 {format_duration(p50)}, p99 {format_duration(p99)}")

    print("\nStep 2 — an exemplar: a real failing request behind the spike")
    # The SDK hands each exemplar over once, in the export after the measurement: look at all.
    # As in the walkthrough, start from the failing (5xx) series; fall back to every series.
    failing = [p for p in every if status_of(p) >= 500] or every
    exemplars = [
        (e.as_double, e.trace_id.hex(), e.span_id.hex())
        for p in failing
        for e in p.exemplars
        if e.trace_id
    ]
    if not exemplars:
        print("  no exemplars arrived")
        return False
    value, trace_hex, _ = max(exemplars)
    print(f"  slowest exemplar: {format_duration(value)}, trace_id={trace_hex}")

    print("\nStep 3 — that trace, every service, as a tree")
    trace = by_trace.get(int(trace_hex, 16), [])
    if not trace:
        print("  the exemplar's trace did not arrive")
        return False
    print("  " + format_trace_tree(trace, attributes=("service.name",)).replace("\n", "\n  "))
    path = bottleneck_path(trace)
    bottleneck = path[-1]
    problem = (
        f", {(bottleneck.status_description or 'ERROR')[:90]}"
        if bottleneck.status == "ERROR"
        else ""
    )
    print(
        f"\n  bottleneck: {' → '.join(s.name for s in path[-3:])} in "
        f"{bottleneck.resource.get('service.name')}: "
        f"{format_duration(bottleneck.duration_s)}{problem}"
    )

    print("\nStep 4 — the log lines of that trace (matched by trace_id)")
    matched = [line for line in read_logs(workdir) if line.get("trace_id") == trace_hex]
    for line in matched:
        skip = {"event", "service", "trace_id", "span_id", "timestamp", "level", "trace_flags"}
        extra = {k: v for k, v in line.items() if k not in skip}
        when, service, level = (
            line.get("timestamp", "")[11:23],
            line.get("service", "?"),
            line.get("level", ""),
        )
        details = json.dumps(extra) if extra else ""
        print(f"  {when} {service:<10} {level:<7} {line['event']} {details}")
    if not matched:
        print("  no log line carries that trace id")
        ok = False

    print("\nEvery hop in one trace:")
    expected = [
        h for h in HOPS if with_redis or not (h.startswith("Redis") or h.startswith("Celery"))
    ]
    best_id, best_found = 0, set()
    for trace_id, spans in by_trace.items():
        found = {hop for hop in expected if any(HOPS[hop](s) for s in spans)}
        if len(found) > len(best_found):
            best_id, best_found = trace_id, found
    for hop in expected:
        print(f"  {'✓' if hop in best_found else '✗'} {hop}")
    print(f"  (trace_id={best_id:032x}, {len(by_trace[best_id]) if best_id else 0} spans)")
    if best_found != set(expected):
        ok = False
    return ok


def bottleneck_path(spans: list[SpanRecord]) -> list[SpanRecord]:
    """From the root, follow the slowest child down; stop below the last failed span (where
    the error started) or at a leaf."""
    ids = {s.span_id for s in spans}
    node = max((s for s in spans if s.parent_span_id not in ids), key=lambda s: s.duration_s)
    path = [node]
    while True:
        kids = [s for s in spans if s.parent_span_id == node.span_id]
        if not kids:
            return path
        slowest = max(kids, key=lambda s: s.duration_s)
        if node.status == "ERROR" and slowest.status != "ERROR":
            return path
        node = slowest
        path.append(node)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=300, help="checkouts to drive (default 300)"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--workdir", help="keep logs and outputs here (default: a temporary directory)"
    )
    args = parser.parse_args(argv)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="spanwise-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    forward = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    forwarder = Forwarder(forward) if forward else None
    rx = OtlpReceiver(grpc=False, on_payload=forwarder.offer if forwarder else None).start()
    shop = Shop(workdir, rx.http_endpoint, args.seed)
    print("Spanwise checkout demo: gateway (Flask) → checkout (FastAPI) → inventory (Django),")
    print("SQLite via SQLAlchemy, Redis, Kafka (librdkafka mock cluster), Celery, structlog.")
    try:
        for note in shop.up():
            print(f"note: {note}")
        print(f"\nDriving {args.requests} checkouts ({args.concurrency} at a time) …")
        started = time.monotonic()
        statuses = drive(shop.ports["gateway"], args.requests, args.concurrency, args.seed)
        print(
            f"  done in {time.monotonic() - started:.1f}s: "
            + ", ".join(f"{k} x{v}" for k, v in sorted(statuses.items()))
        )
        time.sleep(3)  # let the Kafka consumer and the Celery worker finish their share
    finally:
        shop.down()
    time.sleep(1.5)
    ok = investigate(rx, workdir, with_redis=bool(shop.redis_url))
    if forwarder is not None:
        forwarder.drain()
        print(
            f"\nForwarded to {forward}: {forwarder.sent} payloads sent, "
            f"{forwarder.failed} failed, {forwarder.dropped} dropped."
        )
    rx.stop()
    print(f"\nLogs and service output: {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
