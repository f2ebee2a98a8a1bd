"""The shape of the code: the linter's modules import each other without cycles, and neither the
linter nor the language server imports the heavy libraries the trainer uses.

Read from the source with `ast`, so an import written inside a function (which runs later, if
ever) counts as much as one at the top of a module: a cycle hidden in a function-level import is
still a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"tunelint.linter": ROOT / "linter", "tunelint.server": ROOT / "server"}
HEAVY = ("torch", "transformers", "trl", "peft", "accelerate")
FORBIDDEN = {
    "tunelint.linter": HEAVY + ("pygls", "lsprotocol", "tunelint.server", "tunelint.trainer"),
    "tunelint.server": HEAVY,
}


def _modules(package: str) -> dict[str, Path]:
    """Every module of `package` (subpackages included), by dotted name."""
    folder = PACKAGES[package]
    out = {}
    for path in sorted(folder.rglob("*.py")):
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join([package, *parts])] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(absolute dotted name, line) of everything `path` imports, at any depth of the module
    (functions, methods, conditionals). `from a import b` gives `a` and `a.b` (b may be a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((module, node.lineno))
            out.extend((f"{module}.{alias.name}", node.lineno) for alias in node.names)
    return out


def _graph(package: str) -> dict[str, dict[str, int]]:
    """module -> {module of the same package it imports: the line of the first such import}."""
    modules = _modules(package)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in _imports(name, path):
            if target in modules and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b": 1}, "b": {}, "c": {"a": 1, "b": 2}}) is None


def test_the_linter_has_no_import_cycles():
    """Shared types live in leaf modules (results, token_counts, violation, registry); a module
    imports only modules below it, lazily or not."""
    graph = _graph("tunelint.linter")
    assert len(graph) > 20 and "tunelint.linter.rules.schema" in graph  # the walk found the files
    cycle = _cycle(graph)
    if cycle:
        steps = [f"{a} (line {graph[a][b]}) -> {b}" for a, b in zip(cycle, cycle[1:], strict=False)]
        pytest.fail("import cycle in tunelint.linter:\n  " + "\n  ".join(steps))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_forbidden_imports(package):
    """The linter imports neither the editor side nor the trainer's libraries; the server (which
    may import pygls and lsprotocol) never imports torch and its kind: the trainer runs in its own
    process."""
    bad = []
    for name, path in _modules(package).items():
        for target, line in _imports(name, path):
            for banned in FORBIDDEN[package]:
                if target == banned or target.startswith(banned + "."):
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not bad, "\n".join(sorted(set(bad)))


# the trainer's modules the language server and the CLI import: they must not pull torch in either
TORCH_FREE_TRAINER = ("contract", "history", "settings")


@pytest.mark.parametrize("module", TORCH_FREE_TRAINER)
def test_torch_free_trainer_modules(module):
    path = ROOT / "trainer" / f"{module}.py"
    bad = [f"{path.relative_to(ROOT)}:{line} imports {target}"
           for target, line in _imports(f"tunelint.trainer.{module}", path)
           for banned in HEAVY + ("tunelint.server", "pygls", "lsprotocol")
           if target == banned or target.startswith(banned + ".")]
    assert not bad, "\n".join(sorted(set(bad)))
    heavy_siblings = {f"tunelint.trainer.{m}" for m in ("train_recipe", "eval_recipe", "loss", "data", "device",
                                                        "tiny", "export", "generate", "merge", "serve", "plot",
                                                        "scoring")}
    inner = [t for t, _ in _imports(f"tunelint.trainer.{module}", path) if t in heavy_siblings]
    assert not inner, inner
