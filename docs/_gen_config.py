# ruff: noqa: E501  (the description tables below read best one entry per line)
"""Render docs/configuration.md from the code, so the reference cannot drift.

    uv run python docs/_gen_config.py          # rewrite docs/configuration.md
    uv run python docs/_gen_config.py --check  # exit 1 if the committed page is stale

What is read, and from where:

* every plugin option read with ``options.get("key", default, env="VAR")`` (any receiver named
  ``options``), found with :mod:`ast` in ``packages/*/src``; names bound to string constants
  anywhere in the same package are resolved;
* every string literal naming an environment variable (``^(OTEL|SPANWISE)_[A-Z0-9_]+$``), and
  f-strings / prefixes that build such names, with the modules they appear in;
* the shared option vocabulary: the keywords :meth:`spanwise.core.Options.build` pops, and the
  variables it reads (found by running it against a recording environment);
* each plugin's ``name`` / ``distribution`` class attributes and its ``instruments`` extra
  (through :func:`spanwise.core.supported_requirements`);
* the distro's settings: ``spanwise.distro._settings.OVERRIDES`` (the CLI options of
  ``spanwise-instrument`` are generated from it) with defaults from ``load_settings({})``;
  the Kubernetes downward-API variables from ``spanwise.distro._resource.KUBERNETES_VARIABLES``.

Descriptions are kept by hand in :data:`DESCRIPTIONS` (keyed by variable name) and
:data:`OPTION_DESCRIPTIONS` (keyed by keyword); ``docs/test_docs.py`` fails when a variable or
keyword in the code has no description, or a description names one that is gone.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
OUTPUT = ROOT / "docs" / "configuration.md"
ENV_NAME = re.compile(r"^(OTEL|SPANWISE)_[A-Z0-9_]+$")

#: What each environment variable does. Every variable the code reads needs an entry here,
#: and every entry must still be read by the code (docs/test_docs.py checks both ways).
DESCRIPTIONS: dict[str, str] = {
    "OTEL_BSP_EXPORT_TIMEOUT": "batch span processor: export timeout (ms)",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "batch span processor: spans per export (at most the queue size)",
    "OTEL_BSP_MAX_QUEUE_SIZE": "batch span processor: spans buffered before new ones are dropped",
    "OTEL_BSP_SCHEDULE_DELAY": "batch span processor: delay between exports (ms)",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "OTLP base URL for every signal (`/v1/<signal>` is appended for http/protobuf)",
    "OTEL_EXPORTER_OTLP_HEADERS": "headers sent with every OTLP export (`k=v,k2=v2`, URL-encoded); masked by `spanwise doctor`",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "OTLP endpoint for logs, used as given",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "extra OTLP headers for logs",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "OTLP protocol for logs",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT": "OTLP timeout for logs (ms)",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "OTLP endpoint for metrics, used as given",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "extra OTLP headers for metrics",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "OTLP protocol for metrics",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "`cumulative` (default), `delta` or `lowmemory`",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "OTLP timeout for metrics (ms)",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "`grpc` or `http/protobuf`, for every signal",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "OTLP export timeout for every signal (ms)",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "OTLP endpoint for traces, used as given",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "extra OTLP headers for traces",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "OTLP protocol for traces",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "OTLP timeout for traces (ms)",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": "outgoing request headers to record (comma-separated, case-insensitive regular expressions)",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE": "response headers received by HTTP clients to record",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS": "captured headers whose values are recorded as `[REDACTED]`",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "incoming request headers to record as `http.request.header.<name>`",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": "response headers sent by servers to record as `http.response.header.<name>`",
    "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS": "replaces the set of known HTTP methods; others are recorded as `_OTHER`",
    "OTEL_LOGS_EXPORTER": "`otlp`, `console`, `none` (comma-separated)",
    "OTEL_METRICS_EXPORTER": "`otlp`, `console`, `prometheus` (OpenMetrics endpoint with exemplars), `none` (comma-separated)",
    "OTEL_EXPORTER_PROMETHEUS_HOST": "host the `prometheus` metrics endpoint listens on",
    "OTEL_EXPORTER_PROMETHEUS_PORT": "port of the `prometheus` metrics endpoint (`0`: any free port)",
    "OTEL_METRIC_EXPORT_INTERVAL": "metric export interval (ms)",
    "OTEL_PROPAGATORS": "`tracecontext`, `baggage`, `b3`, `b3multi`, `none` (comma-separated)",
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "plugin names to leave off (comma-separated; `*` for all)",
    "OTEL_PYTHON_LOG_CORRELATION": "`true`: the logging plugin calls `logging.basicConfig` with a format showing the trace context",
    "OTEL_PYTHON_LOG_FORMAT": "the format installed by `OTEL_PYTHON_LOG_CORRELATION=true`",
    "OTEL_PYTHON_LOG_LEVEL": "the root level installed by `OTEL_PYTHON_LOG_CORRELATION=true`",
    "OTEL_PYTHON_EXCLUDED_URLS": "regular expressions searched in the full URL; matching requests get no span and no metrics",
    "OTEL_RESOURCE_ATTRIBUTES": "resource attributes, `k=v,k2=v2` (URL-encoded)",
    "OTEL_SDK_DISABLED": "`true`: configure nothing",
    "OTEL_SERVICE_NAME": "`service.name`; wins over `OTEL_RESOURCE_ATTRIBUTES`",
    "OTEL_TRACES_EXPORTER": "`otlp`, `console` (a tree per finished trace), `console_json` (the SDK's JSON per span), `none` (comma-separated)",
    "OTEL_TRACES_SAMPLER": "head sampler: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`",
    "OTEL_TRACES_SAMPLER_ARG": "the ratio in [0, 1] for the `traceidratio` samplers",
    "SPANWISE_CELERY_USE_LINKS": "worker spans start a new trace linked to the producer's span",
    "SPANWISE_CONFLUENT_KAFKA_LINK": "process spans start a new trace linked to the producer's span",
    "SPANWISE_DB_QUERY_TEXT": "`scrubbed` (literals replaced), `raw` (may hold secrets) or `off` (no `db.query.text`)",
    "SPANWISE_FASTAPI_MESSAGE_SPANS": "INTERNAL `http send` / `http receive` spans per ASGI message",
    "SPANWISE_HTTP_CAPTURE_SENSITIVE_HEADERS": "`true`: record `Authorization`, `Cookie` and API-key headers in clear when captured",
    "SPANWISE_LOGS_EXPORT": "set to `true` by the distro when logs are exported, so the logging plugins forward records",
    "SPANWISE_EXPORT_BUFFER_DIR": "keep OTLP span batches on disk while the backend is down (one `<pid>` subdirectory per process; dead processes' batches are replayed)",
    "SPANWISE_EXPORT_BUFFER_MAX_BYTES": "size cap of the disk buffer per process; the oldest batches are dropped first",
    "SPANWISE_EXPORT_RETRY": "`false`: do not retry failed OTLP span exports",
    "SPANWISE_EXPORT_RETRY_INITIAL_DELAY": "first retry wait cap (seconds; full jitter)",
    "SPANWISE_EXPORT_RETRY_MAX_ATTEMPTS": "attempts per span batch before it is given up (or kept on disk)",
    "SPANWISE_EXPORT_RETRY_MAX_DELAY": "largest retry wait (seconds)",
    "SPANWISE_EXPORT_RETRY_MULTIPLIER": "retry wait growth factor",
    "SPANWISE_METRICS_CARDINALITY_GUARD": "`false`: no limit on distinct attribute sets per metric stream",
    "SPANWISE_PROMETHEUS_PORT_PER_WORKER": "`true`: each process serves the Prometheus endpoint on the first free port from the configured one",
    "SPANWISE_TAIL_SAMPLING": "YAML file in the Collector's `tail_sampling` schema: in-process tail sampling",
    "SPANWISE_TAIL_SAMPLING_POLICIES": "the same tail-sampling configuration inline (YAML or JSON); wins over the file",
    "SPANWISE_METRICS_CARDINALITY_LIMIT": "distinct attribute sets per metric stream before new ones go to the overflow series (default 2000)",
    "SPANWISE_MAX_ATTRIBUTE_LENGTH": "cap on the string attributes plugins record (at least 16; default 4096)",
    "SPANWISE_RESOURCE_DETECTORS": "resource detectors to run: `process`, `host`, `container`, `kubernetes`, `none`",
    "SPANWISE_SQLALCHEMY_COMMENTER": "append `/*traceparent='…'*/` to each statement",
    "SPANWISE_URL_REDACT_QUERY_KEYS": "extra query keys whose values are redacted in `url.query` / `url.full`",
}

#: What each keyword option does (shared vocabulary and plugin options).
OPTION_DESCRIPTIONS: dict[str, str] = {
    "excluded_urls": "comma-separated string or list of regular expressions searched in the full URL",
    "request_hook": "called with the span when it starts (recording spans only); failures are logged once and swallowed",
    "response_hook": "called with the span when the response arrives (recording spans only)",
    "sanitize_fields": "header names whose captured values are recorded as `[REDACTED]`",
    "capture_sensitive_headers": "record credential and cookie headers in clear",
    "capture_request_headers": "server plugins: request headers to record",
    "capture_response_headers": "server plugins: response headers to record",
    "capture_client_request_headers": "client plugins: request headers to record",
    "capture_client_response_headers": "client plugins: response headers to record",
    "tracer_provider": "use this tracer provider instead of the global one",
    "meter_provider": "use this meter provider instead of the global one",
    "logger_provider": "use this logger provider instead of the global one",
    "force": "instrument even outside the supported library range",
    "db_query_text": "how `db.query.text` is recorded",
    "enable_commenter": "append the trace context to each SQL statement as a comment",
    "use_links": "link worker spans to the producer instead of parenting them",
    "link": "link process spans to the producer instead of parenting them",
    "message_spans": "INTERNAL spans per ASGI message",
    "set_logging_format": "call `logging.basicConfig` with `logging_format` and `log_level` (nothing if the root logger has handlers)",
    "logging_format": "the format `set_logging_format` installs",
    "log_level": "the level `set_logging_format` installs",
    "export_logs": "also send log records / events to the OpenTelemetry logger provider (the distro sets the variable when logs are exported)",
    "server_request_hook": "`hook(span, scope)` when the span starts (alias `request_hook`)",
    "client_request_hook": "`hook(span, scope, message)` for each message the app receives",
    "client_response_hook": "`hook(span, scope, message)` for each message the app sends (alias `response_hook`)",
}


@dataclass(frozen=True)
class PluginOption:
    """One ``options.get(...)`` call."""

    package: str
    module: str
    key: str
    default: str
    env: str | None


@dataclass(frozen=True)
class Plugin:
    """An ``Instrumentor`` subclass with its ``name`` and ``distribution``."""

    package: str
    cls: str
    name: str
    distribution: str
    module: str


@dataclass
class Scan:
    """Everything found in the sources."""

    options: list[PluginOption] = field(default_factory=list)
    variables: dict[str, set[str]] = field(default_factory=dict)  # name -> modules
    templates: dict[str, set[str]] = field(default_factory=dict)  # OTEL_X_<…>_Y -> modules
    plugins: list[Plugin] = field(default_factory=list)
    db_users: set[str] = field(default_factory=set)  # packages that build a DbClientTracer


def _sources() -> Iterator[tuple[str, str, Path]]:
    """(package folder, dotted module, path) for every source file."""
    for src in sorted(PACKAGES.glob("*/src")):
        for path in sorted(src.rglob("*.py")):
            parts = path.relative_to(src).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield src.parent.name, ".".join(parts), path


def _constants(trees: Mapping[str, ast.Module]) -> dict[str, str]:
    """Module-level ``NAME = "string"`` bindings of one package."""
    found: dict[str, str] = {}
    for tree in trees.values():
        for node in tree.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                for t in targets:
                    if isinstance(t, ast.Name):
                        found.setdefault(t.id, value.value)
    return found


def _string(node: ast.expr | None, consts: Mapping[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return consts.get(node.id)
    return None


def _template(node: ast.JoinedStr) -> str | None:
    """``f"OTEL_PYTHON_{name.upper()}_EXCLUDED_URLS"`` as ``OTEL_PYTHON_<…>_EXCLUDED_URLS``."""
    text = "".join(str(v.value) if isinstance(v, ast.Constant) else "<…>" for v in node.values)
    return text if ENV_NAME.match(text.replace("<…>", "X")) else None


def _receiver_is_options(func: ast.Attribute) -> bool:
    value = func.value
    name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", "")
    return name == "options"


def scan() -> Scan:
    """Walk every package's sources."""
    result = Scan()
    by_package: dict[str, dict[str, ast.Module]] = {}
    for package, module, path in _sources():
        by_package.setdefault(package, {})[module] = ast.parse(path.read_text(), str(path))
    for package, trees in by_package.items():
        consts = _constants(trees)
        for module, tree in trees.items():
            _scan_module(result, package, module, tree, consts)
    return result


def _scan_module(
    result: Scan, package: str, module: str, tree: ast.Module, consts: Mapping[str, str]
) -> None:
    in_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    # ``get = self.options.get`` then ``get("key", ...)``: the alias counts too.
    aliases = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "get"
        and _receiver_is_options(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if ENV_NAME.match(node.value) and id(node) not in in_fstrings:
                if node.value.endswith("_"):  # a prefix completed at run time
                    result.templates.setdefault(node.value + "<…>", set()).add(module)
                else:
                    result.variables.setdefault(node.value, set()).add(module)
        elif isinstance(node, ast.JoinedStr):
            text = _template(node)
            if text is not None:
                result.templates.setdefault(text, set()).add(module)
        elif isinstance(node, ast.Call) and (
            isinstance(node.func, ast.Attribute) or getattr(node.func, "id", None) in aliases
        ):
            is_get = getattr(node.func, "id", None) in aliases or (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and _receiver_is_options(node.func)
            )
            if is_get and node.args:
                key = _string(node.args[0], consts)
                if key is None:
                    raise SystemExit(f"{module}: options.get key is not a known string")
                env_node = next((k.value for k in node.keywords if k.arg == "env"), None)
                env = _string(env_node, consts) if env_node is not None else None
                if env_node is not None and env is None:
                    raise SystemExit(f"{module}: options.get env= is not a known string")
                default = ast.unparse(node.args[1]) if len(node.args) > 1 else "None"
                result.options.append(PluginOption(package, module, key, default, env))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DbClientTracer":
            result.db_users.add(package)
        if isinstance(node, ast.ClassDef):
            attrs = {}
            for stmt in node.body:
                if (
                    isinstance(stmt, (ast.Assign, ast.AnnAssign))
                    and isinstance(stmt.value, ast.Constant)
                    and isinstance(stmt.value.value, str)
                ):
                    target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
                    if isinstance(target, ast.Name):
                        attrs[target.id] = stmt.value.value
            if attrs.get("name") and attrs.get("distribution"):
                result.plugins.append(
                    Plugin(package, node.name, attrs["name"], attrs["distribution"], module)
                )


class _Recorder(dict[str, str]):
    """An empty environment that remembers every variable looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.append(key)
        return default


def shared_vocabulary(plugin_name: str = "<name>") -> list[tuple[str, list[str]]]:
    """(keyword, variables it falls back to) for :meth:`Options.build`, in the order it
    pops them.

    The variables are found by running ``Options.build`` against a recording environment:
    those read when only *key* is left out, but not when every keyword is given; plus
    variables named in the default expression of the ``kw.pop(key, ...)`` call itself
    (read eagerly, so they show up either way).
    """
    from spanwise.core import Options

    module = sys.modules[Options.__module__]
    tree = ast.parse(Path(module.__file__ or "").read_text())
    consts = _constants({"": tree})
    build = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "build")
    keywords: dict[str, list[str]] = {}
    for node in ast.walk(build):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        first = node.args[0]
        is_pop = isinstance(node.func, ast.Attribute) and node.func.attr == "pop"
        is_capture = getattr(node.func, "id", "") == "capture"
        if (is_pop or is_capture) and isinstance(first, ast.Constant):
            eager = [
                consts[n.id]
                for arg in node.args[1:]
                if is_pop
                for n in ast.walk(arg)
                if isinstance(n, ast.Name) and n.id in consts and ENV_NAME.match(consts[n.id])
            ]
            keywords.setdefault(str(first.value), eager)

    def reads(given: Mapping[str, object]) -> list[str]:
        recorder = _Recorder()
        Options.build(plugin_name, given, environ=recorder)
        return list(dict.fromkeys(recorder.read))

    # Neutral values: the recorder only sees what a missing keyword falls back to.
    neutral: dict[str, object] = {
        k: False if k == "capture_sensitive_headers" else [] for k in keywords
    }
    baseline = set(reads(neutral))
    out: list[tuple[str, list[str]]] = []
    for key, eager in keywords.items():
        fallback = [v for v in reads({k: v for k, v in neutral.items() if k != key})]
        found = [v for v in fallback if v not in baseline] + eager
        out.append((key, list(dict.fromkeys(found))))
    return out


def distro_settings() -> list[tuple[str, str, str]]:
    """(CLI option, variable, default) for every override of ``load_settings``."""
    from spanwise.distro import _settings

    defaults = _settings.load_settings({})
    rows: list[tuple[str, str, str]] = []
    for key, var in _settings.OVERRIDES.items():
        rows.append(("--" + key.replace("_", "-"), var, _default(defaults, key)))
    return rows


def _show(value: object) -> str:
    if value is None or value in ({}, ()):
        return ""
    if isinstance(value, tuple):
        return "`" + ",".join(str(v) for v in value) + "`"
    if isinstance(value, bool):
        return "`" + str(value).lower() + "`"
    return f"`{value}`"


def _default(settings: object, key: str) -> str:
    """The default of override *key*, read from the settings ``load_settings({})`` built."""
    match = re.fullmatch(r"exporter_otlp_(?:(traces|metrics|logs)_)?(\w+)", key)
    if match:
        signal, what = match.group(1), match.group(2)
        otlp = settings.otlp[signal or "traces"]  # type: ignore[attr-defined]
        if what == "endpoint":
            return _show(otlp.endpoint) if signal else "`http://localhost:4318` (grpc: `:4317`)"
        if what == "timeout":
            return _show(int(otlp.timeout * 1000))
        return _show(getattr(otlp, what))
    if key.startswith("bsp_"):
        bsp = settings.bsp  # type: ignore[attr-defined]
        name = key.removeprefix("bsp_")
        return _show(getattr(bsp, name, None) if hasattr(bsp, name) else getattr(bsp, name + "_ms"))
    if key == "metric_export_interval":
        return _show(settings.metric_export_interval_ms)  # type: ignore[attr-defined]
    if key == "service_name":
        return "`unknown_service`"
    return _show(getattr(settings, key))


def kubernetes_variables() -> dict[str, tuple[str, ...]]:
    """Resource attribute -> downward-API variables the distro's Kubernetes detector reads."""
    from spanwise.distro._resource import KUBERNETES_VARIABLES

    return dict(KUBERNETES_VARIABLES)


def _esc(text: str) -> str:
    return text.replace("|", "\\|")


def _describe(table: Mapping[str, str], key: str) -> str:
    """The description of *key*; a missing one is marked (and fails docs/test_docs.py)."""
    return _esc(table.get(key, "**UNDOCUMENTED: add it to docs/_gen_config.py**"))


def _modules(mods: set[str]) -> str:
    return ", ".join(f"`{m}`" for m in sorted(mods))


def render() -> str:
    """The whole page."""
    from spanwise.core import supported_requirements

    found = scan()
    lines = [
        "# Configuration reference",
        "",
        "<!-- GENERATED by docs/_gen_config.py from the code: do not edit by hand. -->",
        "",
        "This page is generated from the source code; after changing an option or a variable run",
        "`uv run python docs/_gen_config.py` (the docs tests fail while it is stale).",
        "Keyword arguments win over environment variables; unusable values fall back to the",
        "default with a warning, never an exception.",
        "",
        "## Plugins",
        "",
        "The name is what `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` and the",
        "`OTEL_PYTHON_<NAME>_EXCLUDED_URLS` variables use. The supported range is the",
        "distribution's `instruments` extra.",
        "",
        "| name | instrumentor | distribution | supported |",
        "|---|---|---|---|",
    ]
    for p in sorted(found.plugins, key=lambda p: p.name):
        reqs = ", ".join(str(r) for r in supported_requirements(p.distribution)) or "stdlib"
        lines.append(
            f"| `{p.name}` | `{p.module.rsplit('.', 1)[0]}.{p.cls}` | `{p.distribution}` "
            f"| `{_esc(reqs)}` |"
        )
    lines += [
        "",
        "## Options every plugin shares",
        "",
        "Keywords of `instrument(...)` (and of `instrument_app` / `instrument_engine` /",
        "`instrument_client` where a plugin has one), read by `spanwise.core.Options.build`.",
        "`<NAME>` is the plugin's name in upper case.",
        "",
        "| keyword | environment (when the keyword is not given) | meaning |",
        "|---|---|---|",
    ]
    for key, variables in shared_vocabulary():
        env = ", then ".join(f"`{v}`" for v in variables)
        lines.append(f"| `{key}` | {env} | {_describe(OPTION_DESCRIPTIONS, key)} |")
    lines.append(f"| `force` | | {_describe(OPTION_DESCRIPTIONS, 'force')} |")
    lines += [
        "",
        "## Plugin options",
        "",
        "| plugin | keyword | environment | default | meaning |",
        "|---|---|---|---|---|",
    ]
    plugin_of = {p.package: p.name for p in found.plugins}
    db_plugins = ", ".join(sorted(plugin_of[pkg] for pkg in found.db_users if pkg in plugin_of))
    for opt in sorted(found.options, key=lambda o: (plugin_of.get(o.package, ""), o.key)):
        owner = plugin_of.get(opt.package) or f"{db_plugins} (core)"
        env = f"`{opt.env}`" if opt.env else ""
        lines.append(
            f"| {owner} | `{opt.key}` | {env} | `{opt.default}` "
            f"| {_describe(OPTION_DESCRIPTIONS, opt.key)} |"
        )
    lines += [
        "",
        "## spanwise-instrument and `spanwise.distro.configure()`",
        "",
        "Each `spanwise-instrument` option sets its variable; `configure()` and `load_settings()`",
        "take the same names as keywords (`--service-name` is `service_name=`).",
        "",
        "| option | variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for option, var, default in distro_settings():
        lines.append(f"| `{option}` | `{var}` | {default} | {_describe(DESCRIPTIONS, var)} |")
    lines += [
        "",
        "## Kubernetes downward-API variables",
        "",
        "Read by the distro's `kubernetes` resource detector (first one set wins); see",
        "[Kubernetes](kubernetes.md).",
        "",
        "| resource attribute | variables |",
        "|---|---|",
    ]
    for attribute, names in kubernetes_variables().items():
        lines.append(f"| `{attribute}` | {', '.join(f'`{n}`' for n in names)} |")
    lines += [
        "",
        "## Every environment variable",
        "",
        "| variable | meaning | read in |",
        "|---|---|---|",
    ]
    for name in sorted(found.variables):
        lines.append(
            f"| `{name}` | {_describe(DESCRIPTIONS, name)} | {_modules(found.variables[name])} |"
        )
    lines += [
        "",
        "Names built at run time (`<…>` is filled in by the code):",
        "",
        "| pattern | read in |",
        "|---|---|",
    ]
    for name in sorted(found.templates):
        lines.append(f"| `{name}` | {_modules(found.templates[name])} |")
    return "\n".join(lines) + "\n"


def variables_in_code() -> set[str]:
    """Every variable name the generated page describes: literals and expanded templates."""
    found = scan()
    names = set(found.variables)
    for _key, variables in shared_vocabulary():
        names.update(v for v in variables if "<" not in v)
    return names


def keywords_in_code() -> set[str]:
    """Every keyword option the page describes."""
    found = scan()
    return {k for k, _ in shared_vocabulary()} | {o.key for o in found.options} | {"force"}


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run `uv run python docs/_gen_config.py`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
