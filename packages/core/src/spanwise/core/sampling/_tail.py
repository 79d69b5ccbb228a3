"""An in-process tail-sampling span processor: decide per trace after it has finished."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from .._guard import logger
from ._policies import Policy, parse_duration, policy_from_config

__all__ = ["TailSamplingSpanProcessor", "TailSamplingStats"]


def _call_if_alive(ref: weakref.WeakMethod[Any]) -> None:
    method = ref()
    if method is not None:
        method()


@dataclass
class TailSamplingStats:
    """Counts since start: traces kept and dropped, spans dropped by the per-trace bound."""

    traces_kept: int = 0
    traces_dropped: int = 0
    traces_evicted: int = 0
    spans_over_limit: int = 0
    late_spans: int = 0


@dataclass
class _Trace:
    first_seen: float
    spans: list[ReadableSpan] = field(default_factory=list)


class TailSamplingSpanProcessor(SpanProcessor):
    """Buffers each trace's spans for *decision_wait*, then keeps the trace if any policy says so
    and hands its spans to *next_processor* (for example a ``BatchSpanProcessor``).

    The policy schema is the Collector's ``tail_sampling`` one (see :meth:`from_config`), so the
    same YAML serves both. Spans ending after their trace's decision follow it (decisions are
    remembered, bounded). Memory is bounded by *num_traces* buffered traces (the oldest is
    decided early when more arrive) and *max_spans_per_trace*. Use it with a head sampler that
    samples everything, or tail sampling sees only what the head kept.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        next_processor: SpanProcessor,
        policies: Sequence[Policy],
        *,
        decision_wait: float = 10.0,
        num_traces: int = 50_000,
        max_spans_per_trace: int = 1_000,
        decision_cache_size: int = 100_000,
        tick: float | None = None,
    ) -> None:
        self.next = next_processor
        self.policies = list(policies)
        self.decision_wait = decision_wait
        self.num_traces = max(1, num_traces)
        self.max_spans_per_trace = max_spans_per_trace
        self.stats = TailSamplingStats()
        self._traces: OrderedDict[int, _Trace] = OrderedDict()
        self._decisions: OrderedDict[int, bool] = OrderedDict()
        self._decision_cache_size = decision_cache_size
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tick = tick if tick is not None else min(1.0, max(0.01, decision_wait / 10))
        self._start_thread()
        if hasattr(os, "register_at_fork"):
            # A forked worker (gunicorn --preload, Celery prefork) gets its own decision thread
            # and an empty buffer: the parent decides the traces it had buffered.
            ref = weakref.WeakMethod(self._after_fork_in_child)
            os.register_at_fork(after_in_child=lambda: _call_if_alive(ref))

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="spanwise-tail-sampling", daemon=True
        )
        self._thread.start()

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._traces.clear()
        self._decisions.clear()
        if not self._stop.is_set():
            self._stop = threading.Event()
            self._start_thread()

    # -- configuration -----------------------------------------------------------------------

    @classmethod
    def from_config(
        cls, next_processor: SpanProcessor, config: Mapping[str, Any]
    ) -> TailSamplingSpanProcessor:
        """From the Collector's schema: ``decision_wait``, ``num_traces``, ``policies``
        (``status_code``, ``latency``, ``probabilistic``, ``string_attribute``,
        ``numeric_attribute``, ``always_sample``). Accepts the processor's own mapping or one
        nested under ``tail_sampling``."""
        if "tail_sampling" in config:
            config = config["tail_sampling"]
        return cls(
            next_processor,
            [policy_from_config(p) for p in config.get("policies", [])],
            decision_wait=parse_duration(config.get("decision_wait", "10s")),
            num_traces=int(config.get("num_traces", 50_000)),
        )

    @classmethod
    def from_yaml(
        cls, next_processor: SpanProcessor, path: str | Path
    ) -> TailSamplingSpanProcessor:
        """From a YAML file holding the same schema."""
        import yaml  # optional dependency: the distro brings it

        with open(path) as f:
            return cls.from_config(next_processor, yaml.safe_load(f) or {})

    # -- SpanProcessor -----------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.next.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        trace_id = span.context.trace_id
        evicted: list[tuple[int, _Trace]] = []
        forward = False
        with self._lock:
            decided = self._decisions.get(trace_id)
            if decided is not None:
                self.stats.late_spans += 1
                forward = decided
            else:
                entry = self._traces.get(trace_id)
                if entry is None:
                    entry = self._traces[trace_id] = _Trace(time.monotonic())
                    while len(self._traces) > self.num_traces:
                        evicted.append(self._traces.popitem(last=False))
                        self.stats.traces_evicted += 1
                if len(entry.spans) < self.max_spans_per_trace:
                    entry.spans.append(span)
                else:
                    self.stats.spans_over_limit += 1
        if decided is not None:
            if forward:
                self.next.on_end(span)
            return
        for old_id, old in evicted:
            self._decide(old_id, old)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Decide every buffered trace now, then flush the next processor."""
        self._decide_due(everything=True)
        return self.next.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._decide_due(everything=True)
        self.next.shutdown()

    # -- deciding ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                self._decide_due()
            except Exception as exc:  # noqa: BLE001 - the worker must survive any one trace
                logger.warning("spanwise tail sampling: decision failed", exc_info=exc)

    def _decide_due(self, everything: bool = False) -> None:
        cutoff = time.monotonic() - self.decision_wait
        due: list[tuple[int, _Trace]] = []
        with self._lock:
            while self._traces:
                trace_id, entry = next(iter(self._traces.items()))
                if not everything and entry.first_seen > cutoff:
                    break
                self._traces.popitem(last=False)
                due.append((trace_id, entry))
        for trace_id, entry in due:
            self._decide(trace_id, entry)

    def _decide(self, trace_id: int, entry: _Trace) -> None:
        keep = False
        for policy in self.policies:
            try:
                if policy(entry.spans):
                    keep = True
                    break
            except Exception as exc:  # noqa: BLE001
                logger.warning("spanwise tail sampling: a policy failed", exc_info=exc)
        with self._lock:
            self._decisions[trace_id] = keep
            while len(self._decisions) > self._decision_cache_size:
                self._decisions.popitem(last=False)
            if keep:
                self.stats.traces_kept += 1
            else:
                self.stats.traces_dropped += 1
        if keep:
            for span in entry.spans:
                self.next.on_end(span)

    @property
    def buffered_traces(self) -> int:
        """How many traces wait for a decision."""
        with self._lock:
            return len(self._traces)
