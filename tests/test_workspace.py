"""The workspace's promises: each distribution stands alone, facts are declared once."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())


def project(package: Path) -> dict:  # type: ignore[type-arg]
    with open(package / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]  # type: ignore[no-any-return]


def import_name(package: Path) -> str:
    if package.name == "core":
        return "spanwise.core"
    if package.name == "distro":
        return "spanwise.distro"
    return "spanwise.instrumentation." + package.name.removeprefix("instrumentation-").replace(
        "-", "_"
    )


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
class TestPackageLayout:
    def test_files_every_package_keeps(self, package: Path) -> None:
        """README, CHANGELOG (Keep a Changelog), py.typed, src layout, tests."""
        module_dir = package / "src" / Path(*import_name(package).split("."))
        assert (package / "README.md").read_text().strip()
        assert "## [Unreleased]" in (package / "CHANGELOG.md").read_text()
        assert (module_dir / "py.typed").exists()
        assert (module_dir / "__init__.py").exists()
        assert list((package / "tests").glob("test_*.py"))

    def test_namespace_packages_have_no_init(self, package: Path) -> None:
        """spanwise and spanwise.instrumentation are PEP 420 namespaces in every package."""
        assert not (package / "src" / "spanwise" / "__init__.py").exists()
        assert not (package / "src" / "spanwise" / "instrumentation" / "__init__.py").exists()

    def test_plugins_register_and_declare_a_range(self, package: Path) -> None:
        """Every plugin: an entry point in spanwise_instrumentor and one spanwise-core range."""
        meta = project(package)
        if not package.name.startswith("instrumentation-"):
            return
        (target,) = meta["entry-points"]["spanwise_instrumentor"].values()
        assert target.startswith(import_name(package) + ":")
        assert any(d.startswith("spanwise-core>=") and "<" in d for d in meta["dependencies"])
        if package.name != "instrumentation-logging":
            assert meta["optional-dependencies"]["instruments"]

    def test_init_only_reexports(self, package: Path) -> None:
        """The public __init__ holds imports and __all__ only."""
        import ast

        init = package / "src" / Path(*import_name(package).split(".")) / "__init__.py"
        tree = ast.parse(init.read_text())
        for node in tree.body:
            is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            is_all = isinstance(node, ast.Assign) and [
                getattr(t, "id", "") for t in node.targets
            ] == ["__all__"]
            assert is_doc or is_all or isinstance(node, (ast.Import, ast.ImportFrom)), ast.dump(
                node
            )[:80]


class TestDeclaredOnce:
    def test_tox_lists_every_package(self) -> None:
        """tox.toml has an environment for every package, installing its instruments extra."""
        with open(ROOT / "tox.toml", "rb") as f:
            tox = tomllib.load(f)
        installed = " ".join(" ".join(map(str, env.get("deps", []))) for env in tox["env"].values())
        for package in PACKAGES:
            assert f"packages/{package.name}" in installed, package.name

    def test_nox_reads_ranges_from_metadata(self) -> None:
        """The nox matrix derives oldest/newest from the same instruments extras."""
        sys.path.insert(0, str(ROOT))
        try:
            import noxfile
        finally:
            sys.path.remove(str(ROOT))
        for package in PACKAGES:
            declared = project(package).get("optional-dependencies", {}).get("instruments", [])
            assert declared == noxfile.instruments(package.name)
        assert ("flask~=2.2.0", "flask>=2.2,<4") == noxfile.bounds("flask>=2.2,<4")


@pytest.mark.slow
class TestStandaloneWheels:
    def test_each_wheel_installs_alone(self, tmp_path: Path) -> None:
        """Each distribution builds its own wheel and imports in a fresh venv holding only it,
        spanwise-core and their declared dependencies."""
        uv = shutil.which("uv")
        if uv is None:
            pytest.skip("uv is not installed")
        dist = tmp_path / "dist"
        subprocess.run(
            [uv, "build", "--all-packages", "--wheel", "-o", str(dist), "-q"],
            cwd=ROOT, check=True, timeout=600,
        )  # fmt: skip
        for package in PACKAGES:
            name = project(package)["name"]
            (wheel,) = dist.glob(name.replace("-", "_") + "-*.whl")
            venv = tmp_path / f"venv-{package.name}"
            subprocess.run(
                [uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True, timeout=120
            )
            python = venv / "bin" / "python"
            subprocess.run(
                [uv, "pip", "install", "-q", "-p", str(python), "--find-links", str(dist), str(wheel)],
                check=True, timeout=300,
            )  # fmt: skip
            listing = subprocess.run(
                [uv, "pip", "freeze", "-p", str(python)], capture_output=True, text=True, check=True
            ).stdout
            ours = sorted(
                re.split(r"==| @ ", line)[0]
                for line in listing.splitlines()
                if line.startswith("spanwise")
            )
            expected = sorted({name, "spanwise-core"})
            assert expected == ours, name
            module = import_name(package)
            check = (
                f"import importlib, importlib.metadata as m; mod = importlib.import_module({module!r}); "
                "assert mod.__all__; "
                "[ep.load() for ep in m.entry_points(group='spanwise_instrumentor')]"
            )
            subprocess.run([str(python), "-c", check], check=True, timeout=120)
