"""One typed settings object, built from the standard ``OTEL_*`` variables and overrides."""

from __future__ import annotations

import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "DEFAULT_DETECTORS",
    "BatchSettings",
    "OtlpSettings",
    "Settings",
    "load_settings",
    "mask_headers",
]

logger = logging.getLogger("spanwise.distro")

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
PROPAGATORS = ("tracecontext", "baggage", "b3", "b3multi", "none")
TRACES_EXPORTERS = ("otlp", "console", "none")
METRICS_EXPORTERS = ("otlp", "console", "prometheus", "none")
LOGS_EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("grpc", "http/protobuf")
SIGNALS = ("traces", "metrics", "logs")
#: Resource detectors run unless ``SPANWISE_RESOURCE_DETECTORS`` names others.
DEFAULT_DETECTORS = ("process", "host", "container", "kubernetes")
DETECTORS = DEFAULT_DETECTORS
DEFAULT_PORTS = {"grpc": 4317, "http/protobuf": 4318}

# Keyword override -> the variable it stands for (the CLI of spanwise-instrument uses the same).
OVERRIDES: dict[str, str] = {
    "service_name": "OTEL_SERVICE_NAME",
    "resource_attributes": "OTEL_RESOURCE_ATTRIBUTES",
    "resource_detectors": "SPANWISE_RESOURCE_DETECTORS",
    "traces_sampler": "OTEL_TRACES_SAMPLER",
    "traces_sampler_arg": "OTEL_TRACES_SAMPLER_ARG",
    "propagators": "OTEL_PROPAGATORS",
    "traces_exporter": "OTEL_TRACES_EXPORTER",
    "metrics_exporter": "OTEL_METRICS_EXPORTER",
    "logs_exporter": "OTEL_LOGS_EXPORTER",
    "exporter_otlp_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
    "exporter_otlp_protocol": "OTEL_EXPORTER_OTLP_PROTOCOL",
    "exporter_otlp_headers": "OTEL_EXPORTER_OTLP_HEADERS",
    "exporter_otlp_timeout": "OTEL_EXPORTER_OTLP_TIMEOUT",
    "exporter_otlp_traces_endpoint": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "exporter_otlp_traces_protocol": "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "exporter_otlp_traces_headers": "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "exporter_otlp_traces_timeout": "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "exporter_otlp_metrics_endpoint": "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "exporter_otlp_metrics_protocol": "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "exporter_otlp_metrics_headers": "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "exporter_otlp_metrics_timeout": "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "exporter_otlp_logs_endpoint": "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "exporter_otlp_logs_protocol": "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "exporter_otlp_logs_headers": "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "exporter_otlp_logs_timeout": "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    "bsp_schedule_delay": "OTEL_BSP_SCHEDULE_DELAY",
    "bsp_max_queue_size": "OTEL_BSP_MAX_QUEUE_SIZE",
    "bsp_max_export_batch_size": "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "bsp_export_timeout": "OTEL_BSP_EXPORT_TIMEOUT",
    "metric_export_interval": "OTEL_METRIC_EXPORT_INTERVAL",
    "sdk_disabled": "OTEL_SDK_DISABLED",
}


@dataclass(frozen=True)
class OtlpSettings:
    """Where and how one signal is sent over OTLP.

    .. versionadded:: 0.1.0
    """

    endpoint: str
    protocol: str
    headers: Mapping[str, str]
    timeout: float  # seconds

    @property
    def insecure(self) -> bool:
        """For gRPC: plaintext unless the endpoint says ``https``."""
        return not self.endpoint.lower().startswith("https://")


@dataclass(frozen=True)
class BatchSettings:
    """``OTEL_BSP_*``: the batch span processor's limits (milliseconds and counts).

    .. versionadded:: 0.1.0
    """

    schedule_delay_ms: int = 5000
    max_queue_size: int = 2048
    max_export_batch_size: int = 512
    export_timeout_ms: int = 30000


@dataclass(frozen=True)
class Settings:
    """The effective configuration of the SDK (see :func:`load_settings`).

    ``problems`` lists values that could not be used, each replaced by its default.

    .. versionadded:: 0.1.0
    """

    sdk_disabled: bool = False
    service_name: str | None = None
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    resource_detectors: tuple[str, ...] = DEFAULT_DETECTORS
    traces_sampler: str = "parentbased_always_on"
    traces_sampler_arg: float = 1.0
    propagators: tuple[str, ...] = ("tracecontext", "baggage")
    traces_exporter: tuple[str, ...] = ("otlp",)
    metrics_exporter: tuple[str, ...] = ("otlp",)
    logs_exporter: tuple[str, ...] = ("otlp",)
    otlp: Mapping[str, OtlpSettings] = field(default_factory=dict)
    bsp: BatchSettings = field(default_factory=BatchSettings)
    metric_export_interval_ms: int = 60000
    problems: tuple[str, ...] = ()


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header values hidden (names kept), for printing configuration."""
    return {name: "***" for name in headers}


def _parse_pairs(raw: str, what: str, problems: list[str]) -> dict[str, str]:
    """``k=v,k2=v2`` with URL-encoded keys and values (the W3C baggage-like OTEL format)."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key = urllib.parse.unquote(key.strip())
        if not sep or not key:
            problems.append(f"{what}: ignored malformed entry {item.strip()[:60]!r}")
            continue
        out[key] = urllib.parse.unquote(value.strip())
    return out


def _choices(
    raw: str | None,
    allowed: tuple[str, ...],
    default: tuple[str, ...],
    var: str,
    problems: list[str],
) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return default
    chosen: list[str] = []
    for item in raw.split(","):
        name = item.strip().lower()
        if not name:
            continue
        if name not in allowed:
            problems.append(
                f"{var}: unknown value {name[:60]!r} ignored (known: {', '.join(allowed)})"
            )
            continue
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        return default
    if "none" in chosen and len(chosen) > 1:
        chosen.remove("none")
    return tuple(chosen)


def _int(env: Mapping[str, str], var: str, default: int, problems: list[str]) -> int:
    raw = env.get(var)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(float(raw.strip()))
    except ValueError:
        problems.append(f"{var}: {raw[:60]!r} is not a number; using {default}")
        return default
    if value < 0:
        problems.append(f"{var}: {value} is negative; using {default}")
        return default
    return value


def _bool(raw: str | None) -> bool:
    return raw is not None and raw.strip().lower() == "true"


def _endpoint(env: Mapping[str, str], signal: str, protocol: str) -> str:
    own = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if own:
        return own  # used as given, for every protocol
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not base:
        base = f"http://localhost:{DEFAULT_PORTS[protocol]}"
    if protocol == "grpc":
        return base
    return base.rstrip("/") + f"/v1/{signal}"


def _otlp(env: Mapping[str, str], signal: str, problems: list[str]) -> OtlpSettings:
    upper = signal.upper()
    raw_protocol = env.get(f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    protocol = "http/protobuf"
    if raw_protocol and raw_protocol.strip():
        candidate = raw_protocol.strip().lower()
        if candidate in PROTOCOLS:
            protocol = candidate
        else:
            problems.append(
                f"OTLP protocol {candidate[:60]!r} for {signal} is not supported "
                f"(grpc, http/protobuf); using http/protobuf"
            )
    headers = _parse_pairs(env.get("OTEL_EXPORTER_OTLP_HEADERS", ""), "OTLP headers", problems)
    headers.update(
        _parse_pairs(env.get(f"OTEL_EXPORTER_OTLP_{upper}_HEADERS", ""), "OTLP headers", problems)
    )
    var = f"OTEL_EXPORTER_OTLP_{upper}_TIMEOUT"
    if not env.get(var, "").strip():
        var = "OTEL_EXPORTER_OTLP_TIMEOUT"
    timeout_ms = _int(env, var, 10000, problems)
    return OtlpSettings(
        endpoint=_endpoint(env, signal, protocol),
        protocol=protocol,
        headers=headers,
        timeout=timeout_ms / 1000.0,
    )


def _sampler(env: Mapping[str, str], problems: list[str]) -> tuple[str, float]:
    name = (env.get("OTEL_TRACES_SAMPLER") or "parentbased_always_on").strip().lower()
    if name not in SAMPLERS:
        problems.append(
            f"OTEL_TRACES_SAMPLER: unknown sampler {name[:60]!r}; using parentbased_always_on"
        )
        name = "parentbased_always_on"
    arg = 1.0
    raw = env.get("OTEL_TRACES_SAMPLER_ARG")
    if raw is not None and raw.strip() and name.endswith("traceidratio"):
        try:
            arg = float(raw)
        except ValueError:
            arg = -1.0
        if not 0.0 <= arg <= 1.0:
            problems.append(f"OTEL_TRACES_SAMPLER_ARG: {raw[:60]!r} is not in [0, 1]; using 1.0")
            arg = 1.0
    return name, arg


def _as_variable(value: Any) -> str:
    if isinstance(value, Mapping):
        return ",".join(
            f"{urllib.parse.quote(str(k))}={urllib.parse.quote(str(v))}" for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the settings from *environ* (default ``os.environ``); keyword *overrides* win.

    Each override is named after its variable without the ``OTEL_`` prefix, lower-cased
    (``service_name``, ``traces_exporter``, ``exporter_otlp_endpoint``, ...; see
    ``OVERRIDES``); values are given as the variable would be (strings) or, for lists and
    mappings, as Python sequences and dicts. Unknown keywords raise :class:`TypeError`.

    .. versionadded:: 0.1.0
    """
    env = dict(os.environ if environ is None else environ)
    for key, value in overrides.items():
        var = OVERRIDES.get(key)
        if var is None:
            raise TypeError(f"unknown setting {key!r}; known: {', '.join(sorted(OVERRIDES))}")
        if value is not None:
            env[var] = _as_variable(value)

    problems: list[str] = []
    attributes = _parse_pairs(
        env.get("OTEL_RESOURCE_ATTRIBUTES", ""), "OTEL_RESOURCE_ATTRIBUTES", problems
    )
    service_name = (env.get("OTEL_SERVICE_NAME") or "").strip() or None
    sampler, sampler_arg = _sampler(env, problems)
    raw_metrics = env.get("OTEL_METRICS_EXPORTER")
    settings = Settings(
        sdk_disabled=_bool(env.get("OTEL_SDK_DISABLED")),
        service_name=service_name,
        resource_attributes=attributes,
        resource_detectors=_choices(
            env.get("SPANWISE_RESOURCE_DETECTORS"),
            (*DETECTORS, "none"),
            DEFAULT_DETECTORS,
            "SPANWISE_RESOURCE_DETECTORS",
            problems,
        ),
        traces_sampler=sampler,
        traces_sampler_arg=sampler_arg,
        propagators=_choices(
            env.get("OTEL_PROPAGATORS"),
            PROPAGATORS,
            ("tracecontext", "baggage"),
            "OTEL_PROPAGATORS",
            problems,
        ),
        traces_exporter=_choices(
            env.get("OTEL_TRACES_EXPORTER"),
            TRACES_EXPORTERS,
            ("otlp",),
            "OTEL_TRACES_EXPORTER",
            problems,
        ),
        metrics_exporter=_choices(
            raw_metrics, METRICS_EXPORTERS, ("otlp",), "OTEL_METRICS_EXPORTER", problems
        ),
        logs_exporter=_choices(
            env.get("OTEL_LOGS_EXPORTER"),
            LOGS_EXPORTERS,
            ("otlp",),
            "OTEL_LOGS_EXPORTER",
            problems,
        ),
        otlp={signal: _otlp(env, signal, problems) for signal in SIGNALS},
        bsp=BatchSettings(
            schedule_delay_ms=_int(env, "OTEL_BSP_SCHEDULE_DELAY", 5000, problems),
            max_queue_size=max(1, _int(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, problems)),
            max_export_batch_size=max(
                1, _int(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512, problems)
            ),
            export_timeout_ms=_int(env, "OTEL_BSP_EXPORT_TIMEOUT", 30000, problems),
        ),
        metric_export_interval_ms=max(1, _int(env, "OTEL_METRIC_EXPORT_INTERVAL", 60000, problems)),
    )
    if settings.bsp.max_export_batch_size > settings.bsp.max_queue_size:
        problems.append(
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE is larger than OTEL_BSP_MAX_QUEUE_SIZE; "
            "using the queue size"
        )
        settings = replace(
            settings,
            bsp=replace(settings.bsp, max_export_batch_size=settings.bsp.max_queue_size),
        )
    return replace(settings, problems=tuple(problems))
