"""Memory bound with the backend down: resident memory while spans are produced flat out.

Pipeline: BatchSpanProcessor(DiskBufferedSpanExporter(RetryingSpanExporter(OTLP/HTTP))) with the
OTLP endpoint on a loopback port nobody listens on. The main thread makes spans as fast as it can
for ``--seconds``; a sampler thread reads VmRSS from /proc/self/status every 50 ms. Prints one JSON
line with the figures and exits 1 if the peak RSS went over ``--bound-mb``.

What bounds memory here: the BatchSpanProcessor queue (``--queue-size`` spans, the oldest
dropped beyond it), the disk buffer's in-memory hand-off (``max_memory_batches`` batches) and
nothing else: everything else goes to the directory, itself capped at ``--max-bytes`` (oldest
files dropped and counted).

    .venv/bin/python bench/memory_bound.py --seconds 30 --max-bytes 50000000 --bound-mb 200
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-bytes", type=int, default=50 * 1024 * 1024)
    parser.add_argument("--queue-size", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--bound-mb", type=float, default=200.0)
    parser.add_argument("--directory", default=None)
    args = parser.parse_args(argv)

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from spanwise.core.export import DiskBufferedSpanExporter, RetryingSpanExporter
    from spanwise.core.testing import free_port

    workdir = tempfile.TemporaryDirectory(prefix="spanwise-membound-")
    directory = Path(args.directory or workdir.name)
    endpoint = f"http://127.0.0.1:{free_port()}/v1/traces"  # nobody listens: the backend is down
    retrying = RetryingSpanExporter.for_otlp_http(
        max_attempts=3, initial_delay=0.5, max_delay=2.0, endpoint=endpoint, timeout=1.0
    )
    disk = DiskBufferedSpanExporter(
        retrying, directory, args.max_bytes, retry_initial_delay=0.5, retry_max_delay=2.0
    )
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(
            disk,
            max_queue_size=args.queue_size,
            max_export_batch_size=args.batch_size,
            schedule_delay_millis=200,
        )
    )
    tracer = provider.get_tracer("memory-bound")

    baseline = rss_mb()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    produced = 0
    payload = "x" * 100
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        for _ in range(100):
            with tracer.start_as_current_span(
                "GET /items/{id}",
                attributes={"http.request.method": "GET", "url.path": "/items/42", "pad": payload},
            ) as span:
                span.set_attribute("http.response.status_code", 200)
        produced += 100
    provider.force_flush(5000)
    done.set()
    sampler.join(1)
    peak[0] = max(peak[0], rss_mb())
    stats = disk.stats()
    figures = {
        "seconds": args.seconds,
        "spans_produced": produced,
        "spans_per_second": round(produced / args.seconds),
        "spans_on_disk": stats.spans_buffered,
        "spans_dropped_by_disk_cap": stats.spans_dropped,
        "spans_dropped_by_queue": produced - stats.spans_buffered - stats.spans_dropped,
        "bytes_on_disk": stats.bytes_on_disk,
        "max_bytes": args.max_bytes,
        "baseline_rss_mb": round(baseline, 1),
        "max_rss_mb": round(peak[0], 1),
        "bound_mb": args.bound_mb,
    }
    provider.shutdown()
    workdir.cleanup()
    print(json.dumps(figures))
    return 0 if peak[0] <= args.bound_mb else 1


if __name__ == "__main__":
    sys.exit(main())
