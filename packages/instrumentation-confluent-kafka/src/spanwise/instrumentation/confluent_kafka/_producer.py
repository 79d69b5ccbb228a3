"""``produce()``: a PRODUCER span, trace context in a copy of the headers, delivery reports."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any

from spanwise.core import Guard, MessagingOperation, MessagingTracer
from spanwise.core.propagation import kafka_setter

from ._clients import state_of

__all__ = ["CIMPL_PRODUCE", "SERIALIZING_PRODUCE", "DeliveryReport", "ProduceStep", "with_context"]

#: Positions of ``produce()`` arguments: ``cimpl.Producer`` …
CIMPL_PRODUCE: Mapping[str, int] = {
    "topic": 0,
    "value": 1,
    "key": 2,
    "partition": 3,
    "callback": 4,
    "on_delivery": 5,
    "timestamp": 6,
    "headers": 7,
}
#: … and ``SerializingProducer`` (key before value, no ``callback`` alias).
SERIALIZING_PRODUCE: Mapping[str, int] = {
    "topic": 0,
    "key": 1,
    "value": 2,
    "partition": 3,
    "on_delivery": 4,
    "timestamp": 5,
    "headers": 6,
}
_CALLBACKS = ("callback", "on_delivery")
_TRACEPARENT = "traceparent"


def _get(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], layout: Mapping[str, int], name: str
) -> Any:
    if name in kwargs:
        return kwargs[name]
    index = layout.get(name)
    if index is not None and index < len(args):
        return args[index]
    return None


def _put(
    args: list[Any], kwargs: dict[str, Any], layout: Mapping[str, int], name: str, value: Any
) -> None:
    index = layout.get(name)
    if name in kwargs or index is None or index >= len(args):
        kwargs[name] = value
    else:
        args[index] = value


def _has_traceparent(names: Any) -> bool:
    return any(isinstance(name, str) and name.lower() == _TRACEPARENT for name in names)


def with_context(headers: Any, operation: MessagingOperation) -> Any:
    """A copy of the app's *headers* (``None``, a list of pairs or a dict) with the trace
    context added; the app's object is never changed. Headers that already carry a
    ``traceparent``, or of a type we do not know, are returned as they are."""
    if headers is None:
        carrier: Any = []
    elif isinstance(headers, list):
        if _has_traceparent(pair[0] for pair in headers if isinstance(pair, tuple) and pair):
            return headers
        carrier = list(headers)
    elif isinstance(headers, dict):
        if _has_traceparent(headers):
            return headers
        carrier = dict(headers)
    else:
        return headers
    operation.inject(carrier, kafka_setter)
    return carrier if carrier else headers


def _error_name(err: Any) -> str:
    name = getattr(err, "name", None)
    text = name() if callable(name) else None
    return text if isinstance(text, str) and text else "_OTHER"


class DeliveryReport:
    """The delivery callback we pass to librdkafka: counts the message as sent (with
    ``error.type`` = the Kafka error name on failure), then calls the app's callback, if any,
    whose result and exceptions reach librdkafka exactly as before."""

    __slots__ = ("app", "guard", "operation")

    def __init__(self, app: Callable[..., Any] | None, operation: MessagingOperation, guard: Guard):
        self.app = app
        self.operation = operation
        self.guard = guard

    def __call__(self, err: Any, msg: Any) -> Any:
        try:
            self.operation.delivered(None if err is None else _error_name(err))
        except Exception as exc:  # noqa: BLE001
            self.guard.report("kafka.delivery", exc)
        app = self.app
        if app is None:
            return None
        return app(err, msg)


class ProduceStep:
    """The :data:`~spanwise.core.Around` step for ``produce()`` with the given argument layout."""

    __slots__ = ("guard", "layout", "messaging")

    def __init__(self, messaging: MessagingTracer, guard: Guard, layout: Mapping[str, int]):
        self.messaging = messaging
        self.guard = guard
        self.layout = layout

    def __call__(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[Any, Any, None]:
        layout = self.layout
        topic = _get(args, kwargs, layout, "topic")
        partition = _get(args, kwargs, layout, "partition")
        state = state_of(instance)
        callbacks = [(n, _get(args, kwargs, layout, n)) for n in _CALLBACKS if n in layout]
        given = [(n, cb) for n, cb in callbacks if cb is not None]
        # Count at the broker's verdict when we see every report: the app's own callback, or
        # ours on a producer whose config we know (it forwards to the config's on_delivery).
        defer = (state is None or not state.only_errors) and (
            bool(given) or (state is not None and state.known)
        )
        operation = self.messaging.start_send(
            topic if isinstance(topic, str) else None,
            partition=partition if isinstance(partition, int) and partition >= 0 else None,
            client_id=state.client_id if state is not None else None,
            defer_count=defer,
        )
        new_args = list(args)
        new_kwargs = dict(kwargs)
        try:
            headers = _get(args, kwargs, layout, "headers")
            traced = with_context(headers, operation)
            if traced is not headers:
                _put(new_args, new_kwargs, layout, "headers", traced)
            if defer:
                if given:
                    for name, callback in given:
                        _put(
                            new_args,
                            new_kwargs,
                            layout,
                            name,
                            DeliveryReport(callback, operation, self.guard),
                        )
                else:
                    default = state.default_callback if state is not None else None
                    _put(
                        new_args,
                        new_kwargs,
                        layout,
                        "on_delivery",
                        DeliveryReport(default, operation, self.guard),
                    )
        except Exception:
            operation.end()
            raise
        try:
            yield (tuple(new_args), new_kwargs)
        except BaseException as exc:
            operation.record_exception(exc)
            operation.delivered(operation.error_type)  # no report will come for this one
            raise
        finally:
            operation.end()
