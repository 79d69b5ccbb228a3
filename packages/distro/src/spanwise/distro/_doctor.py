"""``spanwise doctor``: what is installed, what would be instrumented, what config is in force,
and whatever would stop telemetry from flowing."""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ._bootstrap import installed_distributions
from ._catalog import CATALOG, contrib_distribution
from ._loader import check_plugin, installed_plugins
from ._settings import Settings, load_settings, mask_headers

__all__ = ["Report", "diagnose", "endpoint_problem", "run_doctor"]


@dataclass
class Report:
    """The doctor's findings. ``errors`` stop telemetry from flowing (non-zero exit);
    ``warnings`` do not.

    .. versionadded:: 0.1.0
    """

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when something would stop telemetry from flowing, else 0."""
        return 1 if self.errors else 0


def endpoint_problem(endpoint: str, protocol: str) -> str | None:
    """Why *endpoint* cannot be used with *protocol*, or ``None`` when it looks usable."""
    text = endpoint.strip()
    if protocol == "grpc" and "://" not in text:
        text = "http://" + text  # gRPC also accepts host:port
    try:
        parsed = urllib.parse.urlsplit(text)
        port = parsed.port
    except ValueError as exc:
        return f"unparsable endpoint {endpoint!r}: {exc}"
    if parsed.scheme not in ("http", "https"):
        return f"endpoint {endpoint!r} must start with http:// or https://"
    if not parsed.hostname:
        return f"endpoint {endpoint!r} has no host"
    del port
    return None


def _pipeline_lines(settings: Settings, report: Report) -> None:
    """Tail sampling, Prometheus endpoint, cardinality guard, retry and disk buffer."""
    add = report.lines.append
    if settings.tail_sampling_config is not None:
        config = settings.tail_sampling_config
        source = (
            "SPANWISE_TAIL_SAMPLING_POLICIES"
            if settings.tail_sampling_policies
            else f"file {settings.tail_sampling}"
        )
        names = ", ".join(
            f"{p.get('name', '?')} ({p.get('type', '?')})" for p in config["policies"]
        )
        add(
            f"  tail sampling: on, from {source}: decision_wait "
            f"{config.get('decision_wait', '10s')}, num_traces {config.get('num_traces', 50000)}, "
            f"policies: {names}"
        )
    elif settings.tail_sampling or settings.tail_sampling_policies:
        add("  tail sampling: OFF (its configuration cannot be used; see the warnings)")
    else:
        add("  tail sampling: off")
    if "prometheus" in settings.metrics_exporter:
        where = f"{settings.exporter_prometheus_host}:{settings.exporter_prometheus_port}"
        per = (
            "one port per process from there"
            if settings.prometheus_port_per_worker
            else "served by the process that configures the SDK"
        )
        add(f"  prometheus endpoint: http://{where}/metrics ({per})")
    if settings.metrics_cardinality_guard:
        add(f"  metric cardinality guard: on, {settings.metrics_cardinality_limit} attribute sets")
    else:
        add("  metric cardinality guard: off")
    if "otlp" in settings.traces_exporter:
        if settings.export_retry:
            add(
                f"  span export retry: on, {settings.export_retry_max_attempts} attempts, "
                f"delay {settings.export_retry_initial_delay:g}s x"
                f"{settings.export_retry_multiplier:g} up to {settings.export_retry_max_delay:g}s"
            )
        else:
            add("  span export retry: off")
        if settings.export_buffer_dir:
            add(
                f"  span disk buffer: {settings.export_buffer_dir}/<pid> "
                f"(at most {settings.export_buffer_max_bytes} bytes per process)"
            )
        else:
            add("  span disk buffer: off")


def _config_lines(settings: Settings, report: Report) -> None:
    add = report.lines.append
    add("Configuration:")
    add(f"  OTEL_SDK_DISABLED: {str(settings.sdk_disabled).lower()}")
    add(f"  service.name: {settings.service_name or 'unknown_service (OTEL_SERVICE_NAME unset)'}")
    attrs = ", ".join(f"{k}={v}" for k, v in settings.resource_attributes.items()) or "(none)"
    add(f"  resource attributes: {attrs}")
    add(f"  resource detectors: {', '.join(settings.resource_detectors)}")
    sampler = settings.traces_sampler
    if sampler.endswith("traceidratio"):
        sampler += f" ({settings.traces_sampler_arg})"
    add(f"  sampler: {sampler}")
    add(f"  propagators: {', '.join(settings.propagators)}")
    exporters: Mapping[str, tuple[str, ...]] = {
        "traces": settings.traces_exporter,
        "metrics": settings.metrics_exporter,
        "logs": settings.logs_exporter,
    }
    for signal, kinds in exporters.items():
        add(f"  {signal} exporter: {', '.join(kinds)}")
        if "otlp" in kinds:
            otlp = settings.otlp[signal]
            headers = ", ".join(f"{k}={v}" for k, v in mask_headers(otlp.headers).items())
            add(
                f"    otlp {otlp.protocol} -> {otlp.endpoint} "
                f"(timeout {otlp.timeout:g}s, headers: {headers or 'none'})"
            )
            problem = endpoint_problem(otlp.endpoint, otlp.protocol)
            if problem is not None:
                report.errors.append(f"{signal}: {problem}")
    bsp = settings.bsp
    add(
        f"  batch span processor: delay {bsp.schedule_delay_ms} ms, queue {bsp.max_queue_size}, "
        f"batch {bsp.max_export_batch_size}, timeout {bsp.export_timeout_ms} ms"
    )
    add(f"  metric export interval: {settings.metric_export_interval_ms} ms")
    _pipeline_lines(settings, report)
    if settings.sdk_disabled:
        report.errors.append("OTEL_SDK_DISABLED=true: no telemetry is produced")
    if all(kinds == ("none",) for kinds in exporters.values()):
        report.errors.append("every exporter is none: no telemetry leaves the process")
    report.warnings.extend(settings.problems)


def diagnose(environ: Mapping[str, str] | None = None) -> Report:
    """Inspect this environment and the configuration *environ* (default ``os.environ``)
    would produce.

    .. versionadded:: 0.1.0
    """
    report = Report()
    add = report.lines.append
    installed = installed_distributions()
    add(f"Python {sys.version.split()[0]} at {sys.executable}")
    add("Libraries Spanwise supports:")
    any_lib = False
    for entry in CATALOG:
        for line in entry.instruments:
            req = Requirement(line)
            version = installed.get(canonicalize_name(req.name))
            if version is None:
                continue
            any_lib = True
            plugin = installed.get(canonicalize_name(entry.distribution))
            where = f"{entry.distribution} {plugin}" if plugin else "plugin NOT installed"
            add(f"  {req.name} {version} (supported {req.specifier}) -> {where}")
            if plugin is None:
                report.warnings.append(
                    f"{req.name} is installed but {entry.distribution} is not "
                    "(run spanwise-bootstrap -a install)"
                )
    if not any_lib:
        add("  (none installed)")

    add("Plugins:")
    plugins = installed_plugins()
    for ep in plugins:
        status = check_plugin(ep, environ)
        state = status.state
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001  report, never raise
            state = "fails to import"
            report.warnings.append(f"plugin {status.name}: {type(exc).__name__}: {exc}")
        detail = f" ({status.detail})" if status.detail else ""
        add(f"  {status.name}: {status.distribution or '?'} -> {state}{detail}")
        if status.state == "inactive" and "outside" in status.detail:
            report.warnings.append(f"plugin {status.name}: {status.detail}")
        if status.distribution:
            contrib = contrib_distribution(status.distribution)
            if canonicalize_name(contrib) in installed:
                report.warnings.append(
                    f"{contrib} {installed[canonicalize_name(contrib)]} is installed too: if both "
                    f"are active, {status.name} is traced twice (uninstall one, or disable "
                    "ours with OTEL_PYTHON_DISABLED_INSTRUMENTATIONS)"
                )
    if not plugins:
        add("  (none installed)")

    _config_lines(load_settings(environ), report)
    return report


def run_doctor(out: TextIO | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Print the report to *out* (default stdout); returns the exit code.

    .. versionadded:: 0.1.0
    """
    stream = sys.stdout if out is None else out
    report = diagnose(environ)
    for line in report.lines:
        print(line, file=stream)
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=stream)
    for error in report.errors:
        print(f"ERROR: {error}", file=stream)
    verdict = "telemetry would NOT flow" if report.errors else "telemetry would flow"
    print(f"Verdict: {verdict}", file=stream)
    return report.exit_code
