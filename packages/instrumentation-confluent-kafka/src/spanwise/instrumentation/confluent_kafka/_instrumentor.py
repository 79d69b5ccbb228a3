"""``ConfluentKafkaInstrumentor``: traces ``produce``, ``poll``/``consume`` and ``close``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator
from typing import Any, ClassVar

import wrapt

from spanwise.core import Instrumentor, MessagingTracer

from . import _consumer
from ._clients import STATE_ATTRIBUTE, ConsumerState, ProducerState, client_config
from ._consumer import ConsumerSteps
from ._producer import CIMPL_PRODUCE, SERIALIZING_PRODUCE, ProduceStep

__all__ = ["ConfluentKafkaInstrumentor"]

_SERIALIZING = "confluent_kafka.serializing_producer"
_DESERIALIZING = "confluent_kafka.deserializing_consumer"


class ConfluentKafkaInstrumentor(Instrumentor):
    """Traces confluent-kafka's ``Producer``, ``Consumer``, ``SerializingProducer`` and
    ``DeserializingConsumer``.

    ``confluent_kafka.Producer``/``Consumer`` are C types whose methods cannot be patched: while
    instrumented the module attributes name Python subclasses of them (``isinstance`` keeps
    answering as before), so clients built from them after ``instrument()`` are traced; C
    clients built before are left as they are. ``SerializingProducer`` and
    ``DeserializingConsumer`` are Python classes and are patched in place, so their instances
    are traced whenever they were created.

    Options (keyword or environment): ``link`` / ``SPANWISE_CONFLUENT_KAFKA_LINK`` — start each
    process span as the root of a new trace *linked* to the producer's span instead of as its
    child (default false).

    .. versionadded:: 0.1.0
    """

    name: ClassVar[str] = "confluent_kafka"
    distribution: ClassVar[str] = "spanwise-instrumentation-confluent-kafka"

    _replaced: dict[str, Any]
    _hook_generation: int = 0

    def _instrument(self) -> None:
        link = bool(self.options.get("link", False, env="SPANWISE_CONFLUENT_KAFKA_LINK"))
        messaging = MessagingTracer(
            self.tracer, self.meter, self.options, self.guard, "kafka", link=link
        )
        self._replaced = {}
        steps = ConsumerSteps(messaging, self.guard)
        _consumer.active[:] = [steps]
        around = self.patcher.around_sync
        wrap = self.patcher.wrap
        wrap(_SERIALIZING, "SerializingProducer.__init__", self._remember(ProducerState))
        wrap(
            _SERIALIZING,
            "SerializingProducer.produce",
            around("kafka.produce", ProduceStep(messaging, self.guard, SERIALIZING_PRODUCE)),
        )
        wrap(_DESERIALIZING, "DeserializingConsumer.__init__", self._remember(ConsumerState))
        wrap(_DESERIALIZING, "DeserializingConsumer.poll", around("kafka.poll", steps.poll))
        wrap(
            _DESERIALIZING, "DeserializingConsumer.consume", around("kafka.consume", steps.consume)
        )
        wrap(_DESERIALIZING, "DeserializingConsumer.close", around("kafka.close", steps.close))
        cimpl_produce = around("kafka.produce", ProduceStep(messaging, self.guard, CIMPL_PRODUCE))

        def subclasses(_module: Any = None) -> None:
            if generation != self._hook_generation or not self.patcher.on:
                return
            from . import _classes

            target = sys.modules["confluent_kafka"]
            wrap_object = self.patcher.wrap_object
            wrap_object(_classes.Producer, "produce", cimpl_produce)
            wrap_object(_classes.Consumer, "poll", around("kafka.poll", steps.poll))
            wrap_object(_classes.Consumer, "consume", around("kafka.consume", steps.consume))
            wrap_object(_classes.Consumer, "close", around("kafka.close", steps.close))
            if hasattr(_classes.Consumer, "__exit__"):  # not in 2.3: no context manager
                wrap_object(_classes.Consumer, "__exit__", around("kafka.close", steps.close))
            for attribute, replacement in (
                ("Producer", _classes.Producer),
                ("Consumer", _classes.Consumer),
            ):
                if getattr(target, attribute, None) is _classes.original[attribute]:
                    self._replaced[attribute] = replacement
                    setattr(target, attribute, replacement)

        self._hook_generation += 1
        generation = self._hook_generation
        if "confluent_kafka" in sys.modules:
            subclasses()
        else:

            def on_import(module: Any) -> None:
                try:
                    subclasses(module)
                except Exception as exc:  # noqa: BLE001 - never break the app's import
                    self.guard.report("kafka.import", exc)

            wrapt.register_post_import_hook(on_import, "confluent_kafka")

    def _uninstrument(self) -> None:
        self._hook_generation += 1  # a pending import hook now does nothing
        _consumer.active[:] = []
        target = sys.modules.get("confluent_kafka")
        if target is not None:
            from . import _classes

            for attribute, replacement in self._replaced.items():
                if getattr(target, attribute, None) is replacement:
                    setattr(target, attribute, _classes.original[attribute])
        self._replaced = {}
        for _message, operation, state in list(_consumer.open_operations.values()):
            state.open = []
            _consumer.release(state)  # detached where it is current (this thread)
            operation.end()
        _consumer.open_operations.clear()

    def _remember(self, kind: Callable[[Any], Any]) -> Any:
        """A wrapper for a Python client class's ``__init__`` storing the client's state."""

        def step(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Generator[None, Any, None]:
            conf = client_config(args, kwargs)
            yield None
            setattr(instance, STATE_ATTRIBUTE, kind(conf))

        return self.patcher.around_sync(f"kafka.{getattr(kind, '__name__', 'init')}", step)
