"""Getters and setters for every carrier our plugins meet, tolerant of hostile input."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter, Setter, TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .._context import BAGGAGE_KEY, SPAN_KEY
from .._guard import logger

__all__ = [
    "MAX_HEADER_VALUE",
    "AsgiHeadersGetter",
    "AsgiHeadersSetter",
    "DictGetter",
    "DictSetter",
    "KafkaHeadersGetter",
    "KafkaHeadersSetter",
    "WsgiEnvironGetter",
    "asgi_getter",
    "asgi_setter",
    "dict_getter",
    "dict_setter",
    "extract",
    "inject",
    "kafka_getter",
    "kafka_setter",
    "wsgi_getter",
]

#: Values longer than this (bytes or characters) are ignored by every getter: the W3C limits
#: are 512 for tracestate members and 8192 for the whole baggage header.
MAX_HEADER_VALUE = 8192


def _text(value: Any) -> str | None:
    """A header value as text, or None when it is missing, oversized or not valid text."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > MAX_HEADER_VALUE:
            return None
        if not value.isascii():
            # A lone surrogate makes the baggage propagator raise, which would cost the whole
            # extraction, a valid traceparent included.
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return None
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) > MAX_HEADER_VALUE:
            return None
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


class WsgiEnvironGetter(Getter[Mapping[str, Any]]):
    """Reads ``traceparent`` and friends from a WSGI environ (``HTTP_TRACEPARENT``)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        try:
            value = _text(carrier.get("HTTP_" + key.upper().replace("-", "_")))
        except Exception:  # noqa: BLE001
            return None
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        try:
            return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]
        except Exception:  # noqa: BLE001
            return []


class AsgiHeadersGetter(Getter[Any]):
    """Reads from an ASGI scope (its ``headers``) or a bare header list of bytes pairs.

    Repeated headers come back as several values, in order.
    """

    def get(self, carrier: Any, key: str) -> list[str] | None:
        try:
            headers = carrier.get("headers") if isinstance(carrier, Mapping) else carrier
            if not headers:
                return None
            wanted = key.lower().encode("latin-1")
            found: list[str] = []
            for name, value in headers:
                if isinstance(name, (bytes, bytearray)) and bytes(name).lower() == wanted:
                    text = _text(value)
                    if text is not None:
                        found.append(text)
            return found or None
        except Exception:  # noqa: BLE001
            return None

    def keys(self, carrier: Any) -> list[str]:
        try:
            headers = carrier.get("headers") if isinstance(carrier, Mapping) else carrier
            return [bytes(n).decode("latin-1").lower() for n, _ in headers or ()]
        except Exception:  # noqa: BLE001
            return []


class AsgiHeadersSetter(Setter[list[tuple[bytes, bytes]]]):
    """Appends ``(name, value)`` bytes pairs to an ASGI header list."""

    def set(self, carrier: list[tuple[bytes, bytes]], key: str, value: str) -> None:
        carrier.append((key.lower().encode("latin-1"), value.encode("latin-1")))


class KafkaHeadersGetter(Getter[Any]):
    """Reads from Kafka headers: a list of ``(str, bytes | str | None)`` pairs, or a dict.

    Non-UTF-8, ``None`` and oversized values are skipped; repeated keys give several values.
    """

    def get(self, carrier: Any, key: str) -> list[str] | None:
        if not carrier:
            return None
        try:
            pairs: Iterable[Any] = carrier.items() if isinstance(carrier, Mapping) else carrier
            found: list[str] = []
            for pair in pairs:
                try:
                    name, value = pair
                except (TypeError, ValueError):
                    continue
                name_text = _text(name)
                if name_text is not None and name_text.lower() == key:
                    text = _text(value)
                    if text is not None:
                        found.append(text)
            return found or None
        except Exception:  # noqa: BLE001
            return None

    def keys(self, carrier: Any) -> list[str]:
        try:
            pairs: Iterable[Any] = carrier.items() if isinstance(carrier, Mapping) else carrier
            names = (_text(p[0]) for p in pairs or ())
            return [n for n in names if n is not None]
        except Exception:  # noqa: BLE001
            return []


class KafkaHeadersSetter(Setter[Any]):
    """Adds a header as UTF-8 bytes to a Kafka header list (append) or dict (set)."""

    def set(self, carrier: Any, key: str, value: str) -> None:
        data = value.encode("utf-8")
        if isinstance(carrier, MutableMapping):
            carrier[key] = data
        else:
            carrier.append((key, data))


class DictGetter(Getter[Mapping[str, Any]]):
    """Reads from a dict of headers (Celery message headers, requests headers …).

    Looks the key up as given, then case-insensitively; list values give several values.
    """

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        try:
            value = carrier.get(key)
            if value is None:
                lower = key.lower()
                for name, candidate in carrier.items():
                    if isinstance(name, str) and name.lower() == lower:
                        value = candidate
                        break
            if value is None:
                return None
            values = value if isinstance(value, (list, tuple)) else (value,)
            texts = [t for t in (_text(v) for v in values) if t is not None]
            return texts or None
        except Exception:  # noqa: BLE001
            return None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        try:
            return [k for k in carrier if isinstance(k, str)]
        except Exception:  # noqa: BLE001
            return []


class DictSetter(Setter[MutableMapping[str, Any]]):
    """Sets a string value in a dict of headers."""

    def set(self, carrier: MutableMapping[str, Any], key: str, value: str) -> None:
        carrier[key] = value


wsgi_getter = WsgiEnvironGetter()
asgi_getter = AsgiHeadersGetter()
asgi_setter = AsgiHeadersSetter()
kafka_getter = KafkaHeadersGetter()
kafka_setter = KafkaHeadersSetter()
dict_getter = DictGetter()
dict_setter = DictSetter()

_reported: set[str] = set()


def _report_once(what: str, exc: BaseException) -> None:
    if what not in _reported:
        _reported.add(what)
        logger.warning("spanwise: propagator failed to %s; continuing without", what, exc_info=exc)


class _Plan:
    """What extracting from a carrier without any of the propagator's fields gives.

    Made only for propagators whose behaviour on such a carrier is known (W3C trace context
    and baggage, alone or composed): they read nothing else, and return the context they were
    given, or a fresh one (trace context) or the current one (baggage) when given none.
    """

    __slots__ = (
        "direct_inject",
        "fields",
        "fields_bytes",
        "injects_baggage",
        "injects_trace",
        "textmap",
        "uses_current",
        "wsgi_keys",
    )

    def __init__(self, textmap: TextMapPropagator, parts: list[TextMapPropagator]) -> None:
        self.textmap = textmap
        fields = sorted({f.lower() for p in parts for f in p.fields})
        self.fields = frozenset(fields)
        self.fields_bytes = frozenset(f.encode("latin-1") for f in fields)
        self.wsgi_keys = tuple("HTTP_" + f.upper().replace("-", "_") for f in fields)
        # With no context given, the first propagator decides where the chain starts.
        self.uses_current = isinstance(parts[0], W3CBaggagePropagator)
        # Injecting is known too when each runs at most once: trace context writes
        # traceparent (and tracestate) for a valid span, baggage writes nothing when the
        # context holds none. With baggage to write, the propagators run.
        kinds = [type(p) for p in parts]
        traces = kinds.count(TraceContextTextMapPropagator)
        baggages = kinds.count(W3CBaggagePropagator)
        self.injects_trace = traces == 1
        self.injects_baggage = baggages == 1
        self.direct_inject = (
            traces <= 1 and baggages <= 1 and SPAN_KEY is not None and BAGGAGE_KEY is not None
        )

    def empty(self, context: Context | None) -> Context:
        if context is not None:
            return context
        # Contexts are immutable: one empty context serves every request.
        return get_current() if self.uses_current else _EMPTY_CONTEXT


_KNOWN = (TraceContextTextMapPropagator, W3CBaggagePropagator)
_EMPTY_CONTEXT = Context()
# Only read when both keys are known (a plan's direct_inject says so).
_SPAN_KEY: str = SPAN_KEY or ""
_BAGGAGE_KEY: str = BAGGAGE_KEY or ""
_plan: _Plan | None = None
_unknown: Any = None


def _plan_for(textmap: Any) -> _Plan | None:
    """The :class:`_Plan` for the global propagator, or None if its behaviour is not known."""
    global _plan, _unknown
    plan = _plan
    if plan is not None and plan.textmap is textmap:
        return plan
    if textmap is _unknown:
        return None
    parts = list(textmap._propagators) if type(textmap) is CompositePropagator else [textmap]
    if parts and all(type(p) in _KNOWN for p in parts):
        _plan = plan = _Plan(textmap, parts)
        return plan
    _unknown = textmap
    return None


def _wsgi_present(carrier: Any, plan: _Plan) -> bool:
    # In C: the environ's keys against the few the propagators read (a WSGI environ is a
    # dict; anything else raises and the caller lets the propagator read it).
    return not carrier.keys().isdisjoint(plan.wsgi_keys)  # type: ignore[no-any-return]


def _asgi_present(carrier: Any, plan: _Plan) -> bool:
    if type(carrier) is dict or isinstance(carrier, Mapping):
        headers = carrier.get("headers")
    else:
        headers = carrier
    if not headers:
        return False
    # The names in C rather than a Python loop over the pairs; a malformed pair raises and
    # the caller lets the propagator read the headers.
    names = dict(headers)
    fields = plan.fields_bytes
    if not fields.isdisjoint(names):
        return True
    # Servers pass names lower-cased (ASGI); any other case a client sent still counts.
    joined = b"\n".join(names)
    lowered = joined.lower()
    return lowered != joined and not fields.isdisjoint(lowered.split(b"\n"))


def _dict_present(carrier: Any, plan: _Plan) -> bool:
    fields = plan.fields
    if any(f in carrier for f in fields):
        return True
    return any(isinstance(k, str) and k.lower() in fields for k in carrier)


def _kafka_present(carrier: Any, plan: _Plan) -> bool:
    if not carrier:
        return False
    fields = plan.fields
    pairs: Iterable[Any] = (
        carrier.keys() if isinstance(carrier, Mapping) else (p[0] for p in carrier)
    )
    for name in pairs:
        text = _text(name)
        if text is not None and text.lower() in fields:
            return True
    return False


# Exact getter types only: a subclass may read other keys.
_PRESENT = {
    WsgiEnvironGetter: _wsgi_present,
    AsgiHeadersGetter: _asgi_present,
    DictGetter: _dict_present,
    KafkaHeadersGetter: _kafka_present,
}


def extract(carrier: Any, getter: Getter[Any], context: Context | None = None) -> Context:
    """The global propagator's ``extract`` that never raises: a broken carrier or propagator
    gives the context as it was (a fresh trace starts).

    When the propagator is W3C trace context and/or baggage (the default) and the carrier has
    none of their headers, the result is known without running them: that is most requests.
    """
    try:
        textmap = propagate.get_global_textmap()
        check = _PRESENT.get(type(getter))
        if check is not None:
            plan = _plan
            if plan is None or plan.textmap is not textmap:
                plan = _plan_for(textmap)
            if plan is not None:
                try:
                    present = check(carrier, plan)
                except Exception:  # noqa: BLE001 - an odd carrier: let the getter decide
                    present = True
                if not present:
                    return plan.empty(context)
        return textmap.extract(carrier, context=context, getter=getter)
    except Exception as exc:  # noqa: BLE001
        _report_once("extract", exc)
        return context if context is not None else Context()


def inject(
    carrier: Any,
    setter: Setter[Any],
    context: Context | None = None,
    *,
    span: trace.Span | None = None,
) -> None:
    """The global propagator's ``inject`` that never raises.

    *span*, when given, is injected as the current span of *context* (default: the current
    context), without building that context. When the propagator is W3C trace context and/or
    baggage (the default) and there is no baggage to write, ``traceparent`` and ``tracestate``
    are written directly, exactly as the propagator writes them.

    .. versionchanged:: 0.2.0 *span*.
    """
    try:
        textmap = propagate.get_global_textmap()
        plan = _plan_for(textmap)
        if plan is not None and plan.direct_inject:
            ctx = context if context is not None else get_current()
            if not (plan.injects_baggage and ctx.get(_BAGGAGE_KEY)):
                if plan.injects_trace:
                    _write_trace_context(
                        carrier, setter, span if span is not None else ctx.get(_SPAN_KEY)
                    )
                return
        if span is not None:
            context = trace.set_span_in_context(span, context)
        textmap.inject(carrier, context=context, setter=setter)
    except Exception as exc:  # noqa: BLE001
        _report_once("inject", exc)


def _write_trace_context(carrier: Any, setter: Setter[Any], span: Any) -> None:
    """What ``TraceContextTextMapPropagator.inject`` writes for *span*."""
    if span is None or not isinstance(span, trace.Span):
        return
    span_context = span.get_span_context()
    if span_context == trace.INVALID_SPAN_CONTEXT:
        return
    setter.set(
        carrier,
        "traceparent",
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{span_context.trace_flags:02x}",
    )
    if span_context.trace_state:
        setter.set(carrier, "tracestate", span_context.trace_state.to_header())
