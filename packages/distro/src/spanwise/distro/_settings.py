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
    "check_tail_sampling",
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
TRACES_EXPORTERS = ("otlp", "console", "console_json", "none")
METRICS_EXPORTERS = ("otlp", "console", "prometheus", "none")
LOGS_EXPORTERS = ("otlp", "console", "none")
PROTOCOLS = ("grpc", "http/protobuf")
SIGNALS = ("traces", "metrics", "logs")
#: Resource detectors run unless ``SPANWISE_RESOURCE_DETECTORS`` names others.
DEFAULT_DETECTORS = ("process", "host", "container", "kubernetes")
DETECTORS = DEFAULT_DETECTORS
DEFAULT_PORTS = {"grpc": 4317, "http/protobuf": 4318}
#: Where ``OTEL_METRICS_EXPORTER=prometheus`` serves ``/metrics`` unless told otherwise.
DEFAULT_PROMETHEUS_HOST = "127.0.0.1"
DEFAULT_PROMETHEUS_PORT = 9464
#: The disk buffer's size cap per process unless ``SPANWISE_EXPORT_BUFFER_MAX_BYTES`` is set.
DEFAULT_BUFFER_MAX_BYTES = 64 * 1024 * 1024

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
    "tail_sampling": "SPANWISE_TAIL_SAMPLING",
    "tail_sampling_policies": "SPANWISE_TAIL_SAMPLING_POLICIES",
    "exporter_prometheus_host": "OTEL_EXPORTER_PROMETHEUS_HOST",
    "exporter_prometheus_port": "OTEL_EXPORTER_PROMETHEUS_PORT",
    "prometheus_port_per_worker": "SPANWISE_PROMETHEUS_PORT_PER_WORKER",
    "metrics_cardinality_guard": "SPANWISE_METRICS_CARDINALITY_GUARD",
    "metrics_cardinality_limit": "SPANWISE_METRICS_CARDINALITY_LIMIT",
    "export_retry": "SPANWISE_EXPORT_RETRY",
    "export_retry_max_attempts": "SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS",
    "export_retry_initial_delay": "SPANWISE_EXPORT_RETRY_INITIAL_DELAY",
    "export_retry_max_delay": "SPANWISE_EXPORT_RETRY_MAX_DELAY",
    "export_retry_multiplier": "SPANWISE_EXPORT_RETRY_MULTIPLIER",
    "export_buffer_dir": "SPANWISE_EXPORT_BUFFER_DIR",
    "export_buffer_max_bytes": "SPANWISE_EXPORT_BUFFER_MAX_BYTES",
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

    ``problems`` lists values that could not be used, each replaced by its default, and
    settings that work against each other (a ratio head sampler under tail sampling).

    ``tail_sampling_config`` is the tail-sampling processor's mapping (the Collector's
    ``tail_sampling`` schema) read from ``tail_sampling`` (a YAML file) or
    ``tail_sampling_policies`` (inline YAML or JSON), already checked; ``None`` when tail
    sampling is off.

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
    tail_sampling: str | None = None
    tail_sampling_policies: str | None = None
    tail_sampling_config: Mapping[str, Any] | None = None
    exporter_prometheus_host: str = DEFAULT_PROMETHEUS_HOST
    exporter_prometheus_port: int = DEFAULT_PROMETHEUS_PORT
    prometheus_port_per_worker: bool = False
    metrics_cardinality_guard: bool = True
    metrics_cardinality_limit: int = 2000
    export_retry: bool = True
    export_retry_max_attempts: int = 5
    export_retry_initial_delay: float = 1.0
    export_retry_max_delay: float = 30.0
    export_retry_multiplier: float = 2.0
    export_buffer_dir: str | None = None
    export_buffer_max_bytes: int = DEFAULT_BUFFER_MAX_BYTES
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


def _flag(env: Mapping[str, str], var: str, default: bool, problems: list[str]) -> bool:
    """``true`` / ``false`` (any case); anything else is a problem and gives *default*."""
    raw = env.get(var)
    if raw is None or not raw.strip():
        return default
    text = raw.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    problems.append(f"{var}: {raw[:60]!r} is neither true nor false; using {str(default).lower()}")
    return default


def _float(
    env: Mapping[str, str], var: str, default: float, minimum: float, problems: list[str]
) -> float:
    raw = env.get(var)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        problems.append(f"{var}: {raw[:60]!r} is not a number; using {default:g}")
        return default
    if not minimum <= value < float("inf"):
        problems.append(
            f"{var}: {raw[:60]!r} is below {minimum:g} or not finite; using {default:g}"
        )
        return default
    return value


_MAX_TAIL_SAMPLING_BYTES = 1024 * 1024


def _tail_sampling_mapping(document: Any) -> Mapping[str, Any]:
    """The processor's mapping out of a Collector-style document (raises ValueError)."""
    if isinstance(document, list):  # a bare list of policies
        return {"policies": document}
    if not isinstance(document, Mapping):
        raise ValueError("expected a mapping with policies (or a list of policies)")
    processors = document.get("processors")
    if isinstance(processors, Mapping):
        for name, value in processors.items():
            if name == "tail_sampling" or str(name).startswith("tail_sampling/"):
                document = value
                break
        else:
            raise ValueError("processors holds no tail_sampling processor")
    elif "tail_sampling" in document:
        document = document["tail_sampling"]
    if not isinstance(document, Mapping) or not isinstance(document.get("policies"), list):
        raise ValueError("the tail_sampling processor needs a list of policies")
    return document


def check_tail_sampling(text: str) -> Mapping[str, Any]:
    """Parse and check a tail-sampling configuration (YAML or JSON text); raises ValueError
    with the reason when it cannot be used.

    Accepts the processor's own mapping (``decision_wait``, ``num_traces``, ``policies``), one
    nested under ``tail_sampling`` or ``processors: tail_sampling`` (a Collector configuration
    file), or a bare list of policies.
    """
    import yaml

    from spanwise.core.sampling import parse_duration, policy_from_config

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {str(exc)[:200]}") from None
    config = dict(_tail_sampling_mapping(document))
    policies = config["policies"]
    if not policies:
        raise ValueError("the list of policies is empty (nothing would be kept)")
    for policy in policies:
        if not isinstance(policy, Mapping):
            raise ValueError(f"a policy must be a mapping, not {policy!r:.60}")
        try:
            policy_from_config(policy)
        except Exception as exc:  # noqa: BLE001  any reason becomes the message
            name = policy.get("name", "?")
            raise ValueError(f"policy {name!r}: {type(exc).__name__}: {exc}") from None
    try:
        parse_duration(config.get("decision_wait", "10s"))
        if int(config.get("num_traces", 50_000)) < 1:
            raise ValueError("num_traces must be at least 1")
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    return config


def _tail_sampling(
    env: Mapping[str, str], problems: list[str]
) -> tuple[str | None, str | None, Mapping[str, Any] | None]:
    """(file, inline text, checked config) from ``SPANWISE_TAIL_SAMPLING[_POLICIES]``."""
    path = (env.get("SPANWISE_TAIL_SAMPLING") or "").strip() or None
    inline = (env.get("SPANWISE_TAIL_SAMPLING_POLICIES") or "").strip() or None
    if inline is not None:
        if path is not None:
            problems.append(
                "SPANWISE_TAIL_SAMPLING and SPANWISE_TAIL_SAMPLING_POLICIES are both set; "
                "using SPANWISE_TAIL_SAMPLING_POLICIES"
            )
        var, text = "SPANWISE_TAIL_SAMPLING_POLICIES", inline
    elif path is not None:
        var = "SPANWISE_TAIL_SAMPLING"
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read(_MAX_TAIL_SAMPLING_BYTES + 1)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{var}: cannot read {path[:200]!r} ({exc}); tail sampling is off")
            return path, inline, None
        if len(text) > _MAX_TAIL_SAMPLING_BYTES:
            problems.append(f"{var}: {path[:200]!r} is larger than 1 MiB; tail sampling is off")
            return path, inline, None
    else:
        return None, None, None
    try:
        return path, inline, check_tail_sampling(text)
    except ValueError as exc:
        problems.append(f"{var}: {exc}; tail sampling is off (every sampled span is exported)")
        return path, inline, None


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


def _pipeline_settings(env: Mapping[str, str], settings: Settings, problems: list[str]) -> Settings:
    """Tail sampling, the Prometheus endpoint, the cardinality guard, retry and disk buffer."""
    path, inline, tail = _tail_sampling(env, problems)
    sampler = settings.traces_sampler
    if tail is not None:
        if not (env.get("OTEL_TRACES_SAMPLER") or "").strip():
            sampler = "always_on"  # tail sampling decides; the head keeps everything
        elif sampler.endswith("always_off") or (
            sampler.endswith("traceidratio") and settings.traces_sampler_arg < 1.0
        ):
            problems.append(
                f"OTEL_TRACES_SAMPLER={sampler} with tail sampling: the tail sampler only sees "
                "the traces the head sampler kept (unset OTEL_TRACES_SAMPLER to keep all)"
            )
    port = _int(env, "OTEL_EXPORTER_PROMETHEUS_PORT", DEFAULT_PROMETHEUS_PORT, problems)
    if port > 65535:
        problems.append(
            f"OTEL_EXPORTER_PROMETHEUS_PORT: {port} is not a port; using {DEFAULT_PROMETHEUS_PORT}"
        )
        port = DEFAULT_PROMETHEUS_PORT
    limit = _int(env, "SPANWISE_METRICS_CARDINALITY_LIMIT", 2000, problems)
    if limit < 1:
        problems.append("SPANWISE_METRICS_CARDINALITY_LIMIT: must be at least 1; using 2000")
        limit = 2000
    attempts = _int(env, "SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS", 5, problems)
    if attempts < 1:
        problems.append("SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS: must be at least 1; using 5")
        attempts = 5
    max_bytes = _int(env, "SPANWISE_EXPORT_BUFFER_MAX_BYTES", DEFAULT_BUFFER_MAX_BYTES, problems)
    if max_bytes < 1:
        problems.append(
            f"SPANWISE_EXPORT_BUFFER_MAX_BYTES: must be positive; using {DEFAULT_BUFFER_MAX_BYTES}"
        )
        max_bytes = DEFAULT_BUFFER_MAX_BYTES
    return replace(
        settings,
        traces_sampler=sampler,
        tail_sampling=path,
        tail_sampling_policies=inline,
        tail_sampling_config=tail,
        exporter_prometheus_host=(env.get("OTEL_EXPORTER_PROMETHEUS_HOST") or "").strip()
        or DEFAULT_PROMETHEUS_HOST,
        exporter_prometheus_port=port,
        prometheus_port_per_worker=_flag(
            env, "SPANWISE_PROMETHEUS_PORT_PER_WORKER", False, problems
        ),
        metrics_cardinality_guard=_flag(env, "SPANWISE_METRICS_CARDINALITY_GUARD", True, problems),
        metrics_cardinality_limit=limit,
        export_retry=_flag(env, "SPANWISE_EXPORT_RETRY", True, problems),
        export_retry_max_attempts=attempts,
        export_retry_initial_delay=_float(
            env, "SPANWISE_EXPORT_RETRY_INITIAL_DELAY", 1.0, 0.0, problems
        ),
        export_retry_max_delay=_float(env, "SPANWISE_EXPORT_RETRY_MAX_DELAY", 30.0, 0.0, problems),
        export_retry_multiplier=_float(env, "SPANWISE_EXPORT_RETRY_MULTIPLIER", 2.0, 1.0, problems),
        export_buffer_dir=(env.get("SPANWISE_EXPORT_BUFFER_DIR") or "").strip() or None,
        export_buffer_max_bytes=max_bytes,
    )


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
    settings = _pipeline_settings(env, settings, problems)
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
