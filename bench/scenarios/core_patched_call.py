"""One call of a method patched through spanwise.core's guarded around-step with a span."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAME = "core_patched_call"
CONTRIB = None


class Service:
    def handle(self, x: int) -> int:
        return x + 1


def make(variant: str) -> Callable[[], object]:
    if variant == "contrib":
        raise RuntimeError("no contrib counterpart for a bare core patch")
    service = Service()
    if variant == "spanwise":
        from spanwise.core import Instrumentor

        class CoreBench(Instrumentor):
            name = "core-bench"

            def _instrument(self) -> None:
                tracer = self.tracer

                def step(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
                    span = tracer.start_span("Service.handle")
                    try:
                        yield
                    finally:
                        span.end()

                self.patcher.wrap_object(
                    Service, "handle", self.patcher.around_sync("handle", step)
                )

        CoreBench().instrument()
    return lambda: service.handle(1)
