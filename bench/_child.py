"""Measures one scenario variant in a fresh process; prints one JSON line.

Usage: python bench/_child.py SCENARIO_FILE VARIANT TARGET_SECONDS REPEATS

The SDK is set up as in production before the scenario is built: a TracerProvider with a
BatchSpanProcessor over a no-op exporter, and a MeterProvider with a reader. The sampler is
switched between ALWAYS_ON and ALWAYS_OFF in this one process, so the same instrumented app is
measured sampled and unsampled.

Time is the CPU time of the measuring thread (``time.thread_time_ns``), not wall time: on a
shared machine, time spent descheduled while other processes run is not counted, and neither is
the exporter thread's work (the same for every variant). Sampled and unsampled batches alternate,
so a slow phase of the machine hits both modes alike; each mode reports its fastest batch.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

from spanwise.core.testing import SwitchableSampler


class NoopExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def setup_sdk() -> SwitchableSampler:
    sampler = SwitchableSampler(ALWAYS_ON)
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(BatchSpanProcessor(NoopExporter(), max_queue_size=8192))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return sampler


clock = time.thread_time_ns


def calibrate(op: Callable[[], object], target: float) -> int:
    """How many operations take about *target* seconds of this thread's CPU time."""
    n = 1
    while True:
        start = clock()
        for _ in range(n):
            op()
        elapsed = (clock() - start) / 1e9
        if elapsed >= target / 5 or n >= 1 << 22:
            return max(1, int(n * target / max(elapsed, 1e-9)))
        n *= 4


def batch(op: Callable[[], object], n: int) -> float:
    """One batch of *n* operations, in microseconds of thread CPU time per operation."""
    gc.collect()
    start = clock()
    for _ in range(n):
        op()
    return (clock() - start) / n / 1000


def measure(
    op: Callable[[], object],
    sampler: SwitchableSampler,
    target: float,
    repeats: int,
) -> dict[str, float]:
    """Best of *repeats* batches per mode, the modes alternating batch by batch."""
    modes = (("sampled", ALWAYS_ON), ("unsampled", ALWAYS_OFF))
    sizes = {}
    for label, delegate in modes:
        sampler.delegate = delegate
        sizes[label] = calibrate(op, target)
    best = {label: float("inf") for label, _ in modes}
    for _ in range(repeats):
        for label, delegate in modes:
            sampler.delegate = delegate
            best[label] = min(best[label], batch(op, sizes[label]))
    return best


def load(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("bench_scenario", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    path, variant, target, repeats = argv[1], argv[2], float(argv[3]), int(argv[4])
    sampler = setup_sdk()
    scenario = load(path)
    out: dict[str, Any] = {"variant": variant}
    try:
        op = scenario.make(variant)
        op()
    except Exception as exc:  # reported, not fatal: e.g. contrib refuses a version
        out["error"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(out))
        return 0
    try:
        out.update(measure(op, sampler, target, repeats))
    finally:
        teardown = getattr(scenario, "teardown", None)
        if teardown is not None:
            teardown()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
