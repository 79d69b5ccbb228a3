"""The docs build: every page's Python runs, every YAML validates, every link resolves, and the
generated configuration reference is current.

Conventions in the pages:

* ```` ```python ```` blocks of one page run in order in one fresh interpreter (shared
  namespace), in a temporary working directory, with a timeout. A block right after
  ``<!-- skip: reason -->`` is not run (keep these rare, and say why).
* ``<!-- expect-output: text -->`` anywhere on a page: *text* must appear in what the page's
  blocks print, so an example that silently stops doing what the page says fails.
* A page whose Python mentions ``REDIS_URL`` gets a real redis-server (the root conftest's
  ``redis_server`` fixture) and ``REDIS_URL`` pointing at it.
* ```` ```yaml ```` blocks parse with ``yaml.safe_load_all``; Collector configurations (a
  ``service.pipelines`` mapping, also inside a Kubernetes ConfigMap) are checked structurally
  and their ``tail_sampling`` policies parsed with Spanwise's own policy parser; Kubernetes
  objects (a ``kind``) need ``apiVersion`` and ``metadata.name``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from spanwise.core.sampling import TailSamplingSpanProcessor, policy_from_config

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
PAGES = sorted(p for p in DOCS.rglob("*.md"))
PAGE_IDS = [str(p.relative_to(DOCS)) for p in PAGES]

_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_SKIP = re.compile(r"<!--\s*skip:\s*(.+?)\s*-->")
_EXPECT = re.compile(r"<!--\s*expect-output:\s*(.+?)\s*-->")
_LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")

# Collector component types these pages may use (the core and contrib distributions).
RECEIVERS = {"otlp", "prometheus", "hostmetrics", "kubeletstats", "filelog"}
PROCESSORS = {
    "memory_limiter",
    "batch",
    "resourcedetection",
    "tail_sampling",
    "attributes",
    "resource",
    "k8sattributes",
    "filter",
    "transform",
    "probabilistic_sampler",
}
EXPORTERS = {"otlp", "otlphttp", "prometheus", "prometheusremotewrite", "debug", "file"}
CONNECTORS = {"spanmetrics", "servicegraph", "forward"}
EXTENSIONS = {"health_check", "pprof", "zpages"}


@dataclass(frozen=True)
class Block:
    """One fenced code block."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None

    @property
    def label(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of *page*, each with the skip reason of the comment just before it."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, lang = match.group(1), match.group(2)
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        skip = _SKIP.search(lines[j]) if j >= 0 else None
        found.append(
            Block(page, start + 1, lang, "\n".join(body) + "\n", skip.group(1) if skip else None)
        )
        i += 1
    return found


def _runner(page_blocks: list[Block]) -> str:
    """A script running *page_blocks* in order in one namespace, each under its own label."""
    pairs = [(b.label, b.text) for b in page_blocks]
    # The blocks run as the real ``__main__`` module (Django's ROOT_URLCONF=__name__ works).
    return (
        "import sys, types\n"
        "main = types.ModuleType('__main__')\n"
        "sys.modules['__main__'] = main\n"
        f"for label, code in {pairs!r}:\n"
        "    exec(compile(code, label, 'exec'), main.__dict__)\n"
    )


def _pages_with(lang: str) -> list[Path]:
    return [p for p in PAGES if any(b.lang == lang for b in blocks(p))]


class TestPythonExamples:
    """Every Python example runs."""

    @pytest.mark.parametrize(
        "page", _pages_with("python"), ids=[str(p.relative_to(DOCS)) for p in _pages_with("python")]
    )
    def test_page_runs(self, page: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        """The page's Python blocks run in order in a fresh interpreter and print what it says."""
        runnable = [b for b in blocks(page) if b.lang == "python" and b.skip is None]
        if not runnable:
            pytest.skip("every Python block on this page is marked skip")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPANWISE_"))}
        env["PYTHONPATH"] = str(tmp_path)
        if any("REDIS_URL" in b.text for b in runnable):
            env["REDIS_URL"] = request.getfixturevalue("redis_server").url
        script = tmp_path / "_run_page.py"
        script.write_text(_runner(runnable))
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=100,
        )
        assert 0 == proc.returncode, f"{page.name} failed:\n{proc.stdout}\n{proc.stderr}"
        for expected in _EXPECT.findall(page.read_text()):
            assert expected in proc.stdout, f"{page.name}: {expected!r} not printed:\n{proc.stdout}"

    def test_skips_are_rare_and_explained(self) -> None:
        """At most a few Python blocks are skipped, each with a reason."""
        skipped = [b for p in PAGES for b in blocks(p) if b.lang == "python" and b.skip]
        assert all(len(b.skip or "") >= 10 for b in skipped), [b.label for b in skipped]
        assert len(skipped) <= 6, [b.label for b in skipped]


def _pipelines_components(config: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(pipeline, section, component name) for every component a pipeline uses."""
    for pipeline, body in (config.get("service", {}).get("pipelines") or {}).items():
        for section in ("receivers", "processors", "exporters"):
            for name in body.get(section, []) or []:
                yield pipeline, section, name


def check_collector(config: Mapping[str, Any]) -> list[str]:
    """Problems with a Collector configuration (empty when it is sound)."""
    problems: list[str] = []
    known = {
        "receivers": RECEIVERS,
        "processors": PROCESSORS,
        "exporters": EXPORTERS,
        "connectors": CONNECTORS,
        "extensions": EXTENSIONS,
    }
    for section, types in known.items():
        for name in config.get(section) or {}:
            if name.split("/", 1)[0] not in types:
                problems.append(f"{section}: unknown component type {name!r}")
    connectors = set(config.get("connectors") or {})
    for pipeline, section, name in _pipelines_components(config):
        defined = set(config.get(section) or {})
        if section != "processors":
            defined |= connectors
        if name not in defined:
            problems.append(f"pipeline {pipeline}: {section[:-1]} {name!r} is not defined")
    for pipeline, body in (config["service"]["pipelines"] or {}).items():
        if pipeline.split("/", 1)[0] not in ("traces", "metrics", "logs"):
            problems.append(f"pipeline {pipeline!r}: not traces, metrics or logs")
        if not body.get("receivers") or not body.get("exporters"):
            problems.append(f"pipeline {pipeline}: needs receivers and exporters")
        processors = body.get("processors") or []
        if "memory_limiter" in processors and processors[0] != "memory_limiter":
            problems.append(f"pipeline {pipeline}: memory_limiter must come first")
    for name in config["service"].get("extensions") or []:
        if name not in (config.get("extensions") or {}):
            problems.append(f"extension {name!r} is not defined")
    for name, body in (config.get("processors") or {}).items():
        if name.split("/", 1)[0] == "tail_sampling":
            for policy in (body or {}).get("policies", []):
                try:
                    policy_from_config(policy)
                except (KeyError, ValueError, TypeError) as exc:
                    problems.append(f"{name}: policy {policy.get('name')!r}: {exc}")
    return problems


def _collector_configs(doc: Any) -> Iterator[Mapping[str, Any]]:
    """Collector configurations in one YAML document: itself, or inside a ConfigMap."""
    if not isinstance(doc, Mapping):
        return
    if isinstance(doc.get("service"), Mapping) and "pipelines" in doc["service"]:
        yield doc
    if doc.get("kind") == "ConfigMap":
        for value in (doc.get("data") or {}).values():
            inner = yaml.safe_load(value)
            yield from _collector_configs(inner)


def _yaml_blocks() -> list[Block]:
    return [b for p in PAGES for b in blocks(p) if b.lang == "yaml"]


class TestYamlExamples:
    """Every YAML example is valid."""

    @pytest.mark.parametrize("block", _yaml_blocks(), ids=[b.label for b in _yaml_blocks()])
    def test_block_is_valid(self, block: Block) -> None:
        """The block parses; Collector configs and Kubernetes objects are complete."""
        docs = [d for d in yaml.safe_load_all(block.text) if d is not None]
        assert docs, "empty YAML block"
        for doc in docs:
            for config in _collector_configs(doc):
                assert [] == check_collector(config)
            if isinstance(doc, Mapping) and "kind" in doc:
                assert isinstance(doc.get("apiVersion"), str), (
                    "Kubernetes object without apiVersion"
                )
                assert doc.get("metadata", {}).get("name"), (
                    "Kubernetes object without metadata.name"
                )

    def test_collector_check_catches_an_undefined_exporter(self) -> None:
        """The structural check reports a pipeline naming an exporter that is not defined."""
        config = {
            "receivers": {"otlp": {}},
            "exporters": {"debug": {}},
            "service": {"pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlp"]}}},
        }
        assert ["pipeline traces: exporter 'otlp' is not defined"] == check_collector(config)

    def test_collector_check_catches_a_bad_policy(self) -> None:
        """A tail_sampling policy Spanwise cannot parse is reported."""
        config = {
            "receivers": {"otlp": {}},
            "processors": {"tail_sampling": {"policies": [{"name": "x", "type": "nonsense"}]}},
            "exporters": {"debug": {}},
            "service": {
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["tail_sampling"],
                        "exporters": ["debug"],
                    }
                }
            },
        }
        assert 1 == len(check_collector(config))

    def test_tail_sampling_yaml_is_shared_with_spanwise(self) -> None:
        """The gateway's tail_sampling section configures Spanwise's in-process processor too."""
        configs = [
            c
            for b in _yaml_blocks()
            for d in yaml.safe_load_all(b.text)
            for c in _collector_configs(d)
            if "tail_sampling" in (c.get("processors") or {})
        ]
        assert configs, "no Collector config with tail_sampling in the docs"
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        processor = TailSamplingSpanProcessor.from_config(
            SimpleSpanProcessor(InMemorySpanExporter()), configs[0]["processors"]
        )
        try:
            assert processor.policies
        finally:
            processor.shutdown()


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    in_code = False
    anchors: set[str] = set()
    for line in page.read_text().splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    return anchors


def _links(page: Path) -> Iterator[str]:
    in_code = False
    for line in page.read_text().splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code:
            yield from _LINK.findall(line)


class TestLinks:
    """Internal links resolve and every page is reachable."""

    @pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
    def test_internal_links_resolve(self, page: Path) -> None:
        """Every relative link names an existing file (and heading, when it has an anchor)."""
        broken = []
        for target in _links(page):
            if re.match(r"^[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists() or (
                anchor and dest.suffix == ".md" and anchor not in _anchors(dest)
            ):
                broken.append(target)
        assert [] == broken

    def test_every_page_is_linked_from_the_index(self) -> None:
        """docs/index.md links every page."""
        linked = {(DOCS / t.partition("#")[0]).resolve() for t in _links(DOCS / "index.md")}
        assert [] == [
            str(p.relative_to(DOCS)) for p in PAGES if p not in linked and p.name != "index.md"
        ]


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("_gen_config", DOCS / "_gen_config.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_gen_config"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class TestConfigurationReference:
    """docs/configuration.md is generated from the code and current."""

    def test_page_is_current(self) -> None:
        """The committed page equals a fresh render (run `uv run python docs/_gen_config.py`)."""
        gen = _load_generator()
        assert gen.render() == (DOCS / "configuration.md").read_text()

    def test_every_variable_has_a_description(self) -> None:
        """Each variable read by the code is described."""
        gen = _load_generator()
        assert [] == sorted(gen.variables_in_code() - set(gen.DESCRIPTIONS))

    def test_no_description_for_a_variable_gone_from_the_code(self) -> None:
        """Each described variable is still read by the code."""
        gen = _load_generator()
        assert [] == sorted(set(gen.DESCRIPTIONS) - gen.variables_in_code())

    def test_every_keyword_has_a_description(self) -> None:
        """Each option keyword is described, and each description names a keyword in use."""
        gen = _load_generator()
        assert (set(), set()) == (
            gen.keywords_in_code() - set(gen.OPTION_DESCRIPTIONS),
            set(gen.OPTION_DESCRIPTIONS) - gen.keywords_in_code(),
        )

    def test_scan_finds_plugin_options(self) -> None:
        """The scan finds options read through options.get, with their variables."""
        gen = _load_generator()
        found = {(o.key, o.env) for o in gen.scan().options}
        assert ("db_query_text", "SPANWISE_DB_QUERY_TEXT") in found
