"""The layers the code is built in, checked on its imports (any import, at the top or in a function):
no cycles between modules, and each layer imports only the layers beneath it (README "Architecture").

    entrypoints   services.api, services.web, flows, services.cli, services.demo, services.bootstrap
    above         services.orchestration, services.queries
    procedures    services.procedures, services.accounts, services.transparency
    engine        services.engine
    store         services.store
    domain        states, forms
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "states", "forms", "flows")
# a layer and what it may import besides itself
LAYERS = {
    "domain": ("states", "forms"),
    "store": ("services.store",),
    "engine": ("services.engine",),
    "procedures": ("services.procedures", "services.accounts", "services.transparency"),
    "above": ("services.orchestration", "services.queries"),
}
MAY_IMPORT = {
    "domain": {"domain"},
    "store": {"domain", "store"},
    "engine": {"domain", "store", "engine"},
    "procedures": {"domain", "store", "engine", "procedures"},
    "above": {"domain", "store", "engine", "procedures", "above"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] or [node.module]
                targets = [t if t in modules else node.module for t in targets]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def _layer(module: str) -> str | None:
    for layer, prefixes in LAYERS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return layer
    return None


def test_no_import_cycles() -> None:
    graph = _imports(_modules())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_each_layer_imports_only_the_layers_beneath_it() -> None:
    graph = _imports(_modules())
    # the walk sees imports of both forms, at the top and in functions
    assert {"services.engine.audit", "states.machine"} <= graph["services.engine.command"]
    assert "services.procedures.issuance" in graph["services.orchestration.dispatch"]
    wrong = []
    for module, targets in graph.items():
        layer = _layer(module)
        if layer is None:
            continue  # an entrypoint: it may use everything
        for target in targets:
            if _layer(target) not in MAY_IMPORT[layer]:
                wrong.append(f"{module} -> {target}")
    assert sorted(wrong) == []


def test_the_layers_cover_every_module_under_services() -> None:
    entrypoints = ("services.api", "services.web", "services.cli", "services.demo", "services.bootstrap", "services")
    loose = [m for m in _modules() if m.startswith("services") and _layer(m) is None
             and not any(m == e or m.startswith(e + ".") for e in entrypoints[:-1]) and m != "services"]
    assert loose == []
