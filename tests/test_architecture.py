"""The architecture as a test: one import namespace, layers that only point down, no cycles.

Layers (ARCHITECTURE.md): core <- data | methods | metrics | selection <- run <- summarise <-
interface. A module may import its own layer or any layer below; the four plugin layers in the
middle do not import each other. realbench modules are imported at module level only: a
function-level import of a realbench module would hide an upward arrow or a cycle.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"realbench": ROOT / "realbench", "realbench.methods": ROOT / "methods",
            "realbench.metrics": ROOT / "metrics"}
# The layers, bottom up: a module's layer is its folder under realbench/ (the modules directly in
# realbench/ are the interface; methods/ and metrics/ are installed as realbench.methods and
# realbench.metrics). Layers on the same rank do not import each other.
ORDER = [("core",), ("weights",), ("data", "methods", "metrics", "selection"), ("run",), ("summarise",), ("study",),
         ("interface",)]
RANK = {name: rank for rank, names in enumerate(ORDER) for name in names}


def modules(packages: dict[str, Path] = PACKAGES) -> dict[str, Path]:
    """Every module of the installed namespace, by dotted name, from the source folders."""
    out = {}
    for package, folder in packages.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if package == "realbench" and parts[0] in ("methods", "metrics"):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def layer(module: str) -> str:
    """The folder a module lives in is its layer."""
    parts = module.split(".")
    if len(parts) == 2 and parts[1] not in RANK or len(parts) == 1:
        return "interface"  # realbench itself and the modules directly in realbench/
    if parts[1] not in RANK:
        raise AssertionError(f"realbench/{parts[1]}/ is in no layer: add it to ORDER here and to ARCHITECTURE.md")
    return parts[1]


def imports(known: dict[str, Path]) -> list[tuple[str, str, bool]]:
    """(importer, imported, at module level) for every realbench import in the package."""
    edges = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                if not target.startswith("realbench"):
                    continue
                while target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != name:
                    edges.append((name, target, id(node) in top_level))
    return edges


def violations(edges) -> list[str]:
    """Imports that point up a layer, or sideways between two plugin layers."""
    out = []
    for importer, imported, _ in edges:
        a, b = layer(importer), layer(imported)
        if a != b and (RANK[a] < RANK[b] or RANK[a] == RANK[b]):
            out.append(f"{importer} ({a}) -> {imported} ({b})")
    return out


KNOWN = modules()
EDGES = imports(KNOWN)


def test_every_module_has_a_layer():
    for name in KNOWN:
        layer(name)
    folders = {p.name for p in (ROOT / "realbench").iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders - {"results"} <= set(RANK), f"folders in no layer: {sorted(folders - set(RANK))}"


def test_layers_only_point_down():
    assert not violations(EDGES), "imports that point up or sideways:\n" + "\n".join(violations(EDGES))


def test_realbench_modules_are_imported_at_module_level():
    hidden = [f"{importer} -> {imported}" for importer, imported, top in EDGES if not top]
    assert not hidden, "function-level imports of realbench modules:\n" + "\n".join(hidden)


def cycles(known, edges) -> list[str]:
    graph: dict[str, set[str]] = {name: set() for name in known}
    for importer, imported, _ in edges:
        graph[importer].add(imported)
    state: dict[str, int] = {}
    found = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found


def test_no_import_cycles():
    assert not cycles(KNOWN, EDGES), "import cycles:\n" + "\n".join(cycles(KNOWN, EDGES))


def test_the_checker_sees_planted_mistakes(tmp_path):
    """On a small tree with one mistake of each kind, every check above fires (and only there)."""
    files = {
        "realbench/__init__.py": "", "realbench/core/__init__.py": "", "realbench/run/__init__.py": "",
        "realbench/summarise/__init__.py": "", "realbench/data/__init__.py": "",
        "realbench/core/errors.py": "from . import paths\n",  # errors <-> paths: a cycle in core
        "realbench/core/paths.py": "import realbench.core.errors as errors\n",
        # up, and hidden in a function
        "realbench/core/scene.py": "from .errors import X\n\ndef f():\n    from ..summarise.tables import T\n",
        "realbench/summarise/tables.py": "from ..core.scene import Scene\nfrom realbench.run import runner\n",
        "realbench/run/runner.py": "from ..core.scene import Scene\n",
        "realbench/data/benchmarks/__init__.py": "from ...core.scene import Scene\n",
        "realbench/data/benchmarks/mine.py": "from . import BENCHMARKS\nfrom ...run.runner import run\n",  # data -> run
        "methods/__init__.py": "from .base import Method\n",
        "methods/base.py": "from realbench.metrics.base import Metric\n",  # methods -> metrics: sideways
        "metrics/__init__.py": "", "metrics/base.py": "from realbench.core.scene import Scene\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    known = modules({"realbench": tmp_path / "realbench", "realbench.methods": tmp_path / "methods",
                     "realbench.metrics": tmp_path / "metrics"})
    edges = imports(known)
    assert sorted(violations(edges)) == [
        "realbench.core.scene (core) -> realbench.summarise.tables (summarise)",
        "realbench.data.benchmarks.mine (data) -> realbench.run.runner (run)",
        "realbench.methods.base (methods) -> realbench.metrics.base (metrics)"]
    assert [f"{a} -> {b}" for a, b, top in edges if not top] == ["realbench.core.scene -> realbench.summarise.tables"]
    found = cycles(known, edges)
    assert "realbench.core.errors -> realbench.core.paths -> realbench.core.errors" in found
    assert any("realbench.core.scene -> realbench.summarise.tables" in cycle for cycle in found)  # the hidden import
    assert not any("metrics" in cycle or "benchmarks" in cycle for cycle in found)
    assert ("realbench.summarise.tables", "realbench.run.runner", True) in edges  # `from realbench.run import runner`


@pytest.mark.parametrize("shadow", ["metrics", "methods"])
def test_only_the_realbench_namespace_is_installed(tmp_path, shadow):
    """A user's own metrics.py or methods.py beside a notebook cannot break the API, and pip
    installs no top-level ``metrics``/``methods`` package."""
    (tmp_path / f"{shadow}.py").write_text("raise ImportError('the user module shadows nothing')\n")
    script = ("import realbench, realbench.api; from realbench.metrics import METRICS; "
              "from realbench.methods import METHODS; print(len(METRICS.names()) > 0, len(METHODS.names()) > 0)")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split() == ["True", "True"], done.stderr
    (tmp_path / f"{shadow}.py").unlink()
    done = subprocess.run([sys.executable, "-c", f"import {shadow}"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr
