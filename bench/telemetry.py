"""What one operation of a scenario variant records: span and metric shapes, as JSON.

    python bench/telemetry.py redis_get spanwise
    python bench/telemetry.py redis_get handmade

Runs the operation a few times, sampled, with every span and metric point kept in memory, and
prints the *shape* of what it recorded: each span's name, kind, attribute keys and parent
(the last operation's spans), and each metric's name, unit, attribute keys and
bucket boundaries. Values that vary (ids, durations, ports) are left out. The tests compare
the ``handmade`` variant's shape with Spanwise's, so the handmade floor stays the same
telemetry as Spanwise's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def shape(scenario: str, variant: str, operations: int = 3) -> dict[str, Any]:
    """The telemetry shape of one operation of *scenario* run as *variant*."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    sys.path.insert(0, str(HERE))
    import _child

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    module = _child.load(str(HERE / "scenarios" / f"{scenario}.py"))
    try:
        op = module.make(variant)
        for _ in range(operations - 1):
            op()
        exporter.clear()
        op()
        provider.force_flush()
        finished = exporter.get_finished_spans()
        names = {span.context.span_id: span.name for span in finished}
        spans = [
            {
                "name": span.name,
                "kind": span.kind.name,
                "attributes": sorted(span.attributes or {}),
                # The parent's name when it is one of this operation's spans (a trace carried
                # through a queue), "other" for any other parent, None for a root.
                "parent": None if span.parent is None else names.get(span.parent.span_id, "other"),
                "events": [event.name for event in span.events],
            }
            for span in finished
        ]
        instruments = []
        data = reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    keys = sorted(
                        {key for point in metric.data.data_points for key in point.attributes}
                    )
                    bounds = {
                        tuple(getattr(point, "explicit_bounds", None) or ())
                        for point in metric.data.data_points
                    }
                    instruments.append(
                        {
                            "name": metric.name,
                            "unit": metric.unit,
                            "keys": keys,
                            "buckets": sorted(bounds),
                        }
                    )
    finally:
        teardown = getattr(module, "teardown", None)
        if teardown is not None:
            teardown()
    return {
        "spans": sorted(spans, key=lambda s: (s["kind"], s["name"])),
        "metrics": sorted(instruments, key=lambda m: m["name"]),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(shape(argv[1], argv[2]), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
