"""What the instrumentation remembers about one producer or consumer: read once, from its config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["STATE_ATTRIBUTE", "ConsumerState", "ProducerState", "client_config", "state_of"]

#: The attribute holding a client's state: a slot on our subclasses of the C types, an instance
#: attribute on ``SerializingProducer`` / ``DeserializingConsumer`` objects.
STATE_ATTRIBUTE = "_spanwise_kafka"


def client_config(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration a client was built with: the dict argument plus keyword arguments."""
    conf: dict[str, Any] = {}
    if args and isinstance(args[0], Mapping):
        conf.update(args[0])
    conf.update(kwargs)
    return conf


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


class ProducerState:
    """A producer's delivery-report set-up and ``client.id``.

    ``known`` says whether the config was seen: only then may the instrumentation attach its own
    delivery callback to a message the app sent without one (it forwards to ``default_callback``,
    the config's ``on_delivery``, which a per-message callback would otherwise replace).
    """

    __slots__ = ("client_id", "default_callback", "known", "only_errors")

    def __init__(self, conf: Mapping[str, Any] | None) -> None:
        self.known = conf is not None
        conf = conf or {}
        callback = conf.get("on_delivery")
        self.default_callback = callback if callable(callback) else None
        self.only_errors = _truthy(conf.get("delivery.report.only.error", False))
        self.client_id = _text(conf.get("client.id"))


class ConsumerState:
    """A consumer's group and ``client.id``, and the process operations still open on it."""

    __slots__ = ("client_id", "context", "group", "open", "token")

    def __init__(self, conf: Mapping[str, Any] | None) -> None:
        conf = conf or {}
        self.group = _text(conf.get("group.id"))
        self.client_id = _text(conf.get("client.id"))
        #: (message, operation) pairs started by the last poll/consume, ended by the next one.
        self.open: list[tuple[Any, Any]] = []
        #: The context attached for the app while it handles the last polled message.
        self.context: Any = None
        self.token: Any = None


def state_of(client: Any) -> Any:
    """The state stored on *client*, or ``None``."""
    return getattr(client, STATE_ATTRIBUTE, None)
