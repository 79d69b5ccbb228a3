"""Python subclasses of the C ``Producer`` and ``Consumer`` types, whose methods we can patch.

``confluent_kafka.Producer`` and ``Consumer`` are C extension types: neither the types nor their
instances accept new attributes, so their methods cannot be wrapped. While instrumented, the
module attributes ``confluent_kafka.Producer`` / ``Consumer`` name these subclasses instead;
``isinstance(obj, confluent_kafka.Producer)`` stays true for every producer, including ones
created before ``instrument()`` (those are not traced: nothing can be patched on them).
"""

from __future__ import annotations

from typing import Any

import confluent_kafka

from ._clients import STATE_ATTRIBUTE, ConsumerState, ProducerState, client_config

__all__ = ["Consumer", "Producer", "original"]


class _SameAs(type):
    """A metaclass making ``isinstance``/``issubclass`` against our class answer as the original
    C type would (only for our class itself, not for the app's subclasses of it)."""

    def __instancecheck__(cls, obj: Any) -> bool:
        base = cls.__dict__.get("_spanwise_original")
        if base is not None:
            return isinstance(obj, base)
        return type.__instancecheck__(cls, obj)

    def __subclasscheck__(cls, sub: type) -> bool:
        base = cls.__dict__.get("_spanwise_original")
        if base is not None:
            return issubclass(sub, base)
        return type.__subclasscheck__(cls, sub)


class Producer(confluent_kafka.cimpl.Producer, metaclass=_SameAs):
    """``confluent_kafka.Producer`` while Spanwise instruments it."""

    __slots__ = (STATE_ATTRIBUTE,)
    _spanwise_original = confluent_kafka.cimpl.Producer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            state: ProducerState | None = ProducerState(client_config(args, kwargs))
        except Exception:  # noqa: BLE001 - an odd config leaves the producer untraced-by-default
            state = None
        setattr(self, STATE_ATTRIBUTE, state)


class Consumer(confluent_kafka.cimpl.Consumer, metaclass=_SameAs):
    """``confluent_kafka.Consumer`` while Spanwise instruments it."""

    __slots__ = (STATE_ATTRIBUTE,)
    _spanwise_original = confluent_kafka.cimpl.Consumer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            state: ConsumerState | None = ConsumerState(client_config(args, kwargs))
        except Exception:  # noqa: BLE001
            state = None
        setattr(self, STATE_ATTRIBUTE, state)


for _cls in (Producer, Consumer):
    _cls.__module__ = "confluent_kafka"
    _cls.__qualname__ = _cls.__name__

#: The C types our classes stand in for.
original = {"Producer": confluent_kafka.cimpl.Producer, "Consumer": confluent_kafka.cimpl.Consumer}
