"""``produce()``: a PRODUCER span, trace context in a copy of the headers, delivery reports."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any

from opentelemetry.propagators.textmap import Setter

from spanwise.core import Guard, MessagingOperation, MessagingTracer
from spanwise.core.context import suppressed
from spanwise.core.propagation import kafka_setter

from ._clients import STATE_ATTRIBUTE

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


_MISSING: Any = object()


def _get(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str, index: int | None) -> Any:
    value = kwargs.get(name, _MISSING)
    if value is not _MISSING:
        return value
    if index is not None and index < len(args):
        return args[index]
    return None


class _Arguments:
    """The copy of ``produce()``'s arguments we hand on: positional ones copied only when one
    of them changes."""

    __slots__ = ("args", "kwargs", "new_args")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = dict(kwargs)
        self.new_args: list[Any] | None = None

    def put(self, name: str, index: int | None, value: Any) -> None:
        if name in self.kwargs or index is None or index >= len(self.args):
            self.kwargs[name] = value
        else:
            if self.new_args is None:
                self.new_args = list(self.args)
            self.new_args[index] = value

    def call(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        new_args = self.new_args
        return (self.args if new_args is None else tuple(new_args)), self.kwargs


class _ListSetter(Setter[list[Any]]):
    """:data:`~spanwise.core.propagation.kafka_setter` for a carrier known to be our list copy
    (appends a ``(name, UTF-8 bytes)`` pair) without asking which kind of carrier it is."""

    def set(self, carrier: list[Any], key: str, value: str) -> None:
        carrier.append((key, value.encode("utf-8")))


_list_setter = _ListSetter()


def _has_traceparent_pair(headers: list[Any]) -> bool:
    for pair in headers:
        if isinstance(pair, tuple) and pair:
            name = pair[0]
            if isinstance(name, str) and len(name) == 11 and name.lower() == _TRACEPARENT:
                return True
    return False


def _has_traceparent(names: Any) -> bool:
    return any(isinstance(name, str) and name.lower() == _TRACEPARENT for name in names)


def with_context(headers: Any, operation: MessagingOperation) -> Any:
    """A copy of the app's *headers* (``None``, a list of pairs or a dict) with the trace
    context added; the app's object is never changed. Headers that already carry a
    ``traceparent``, or of a type we do not know, are returned as they are."""
    if headers is None:
        carrier: Any = []
        setter: Setter[Any] = _list_setter
    elif isinstance(headers, list):
        if _has_traceparent_pair(headers):
            return headers
        carrier = list(headers)
        setter = _list_setter
    elif isinstance(headers, dict):
        if _has_traceparent(headers):
            return headers
        carrier = dict(headers)
        setter = kafka_setter
    else:
        return headers
    operation.inject(carrier, setter)
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

    __slots__ = (
        "_callbacks",
        "_delivery",
        "_headers",
        "_partition",
        "_topic",
        "guard",
        "messaging",
    )

    def __init__(self, messaging: MessagingTracer, guard: Guard, layout: Mapping[str, int]):
        self.messaging = messaging
        self.guard = guard
        self._topic = layout.get("topic")
        self._partition = layout.get("partition")
        self._headers = layout.get("headers")
        self._delivery = layout.get("on_delivery")
        self._callbacks = tuple((name, layout[name]) for name in _CALLBACKS if name in layout)

    def __call__(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Generator[Any, Any, None]:
        if suppressed():
            yield None
            return
        topic = _get(args, kwargs, "topic", self._topic)
        partition = _get(args, kwargs, "partition", self._partition)
        state = getattr(instance, STATE_ATTRIBUTE, None)
        given: list[tuple[str, int, Any]] | None = None
        for name, index in self._callbacks:
            callback = _get(args, kwargs, name, index)
            if callback is not None:
                if given is None:
                    given = []
                given.append((name, index, callback))
        # Count at the broker's verdict when we see every report: the app's own callback, or
        # ours on a producer whose config we know (it forwards to the config's on_delivery).
        if state is None:
            defer = given is not None
            client_id = None
        else:
            defer = not state.only_errors and (given is not None or state.known)
            client_id = state.client_id
        operation = self.messaging.start_send(
            topic if isinstance(topic, str) else None,
            partition=partition if isinstance(partition, int) and partition >= 0 else None,
            client_id=client_id,
            defer_count=defer,
        )
        call = _Arguments(args, kwargs)
        try:
            headers = _get(args, kwargs, "headers", self._headers)
            traced = with_context(headers, operation)
            if traced is not headers:
                call.put("headers", self._headers, traced)
            if defer:
                guard = self.guard
                if given is not None:
                    for name, index, callback in given:
                        call.put(name, index, DeliveryReport(callback, operation, guard))
                else:
                    default = state.default_callback if state is not None else None
                    call.put(
                        "on_delivery", self._delivery, DeliveryReport(default, operation, guard)
                    )
        except Exception:
            operation.end()
            raise
        try:
            yield call.call()
        except BaseException as exc:
            operation.record_exception(exc)
            operation.delivered(operation.error_type)  # no report will come for this one
            raise
        finally:
            operation.end()
