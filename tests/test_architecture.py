"""The house rules, checked from the source: layers run one way and imports form no cycle.

The layer order is the one in ``docs/architecture.md``. A module may import from its own
layer or any layer below it; imports inside ``if TYPE_CHECKING:`` blocks are type hints only
and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "seqvae"

# lowest first; modules in one tuple share a layer
LAYERS: list[tuple[str, ...]] = [
    ("errors", "version", "utils", "options", "progress"),
    ("io",),
    ("executor",),
    ("data",),
    ("models",),
    ("training",),
    ("run",),
    ("analysis",),
    ("plots",),
    ("api",),
    ("report", "experiments"),
    ("workflows",),
    ("cli",),
    ("",),  # the package itself: the public API re-exports
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# drawing libraries: only plots/ (and the report, which embeds figures) may import them
DRAWING = ("matplotlib", "plotly")
DRAWING_ALLOWED = {"plots", "report"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, name: str | None) -> str:
    """``from module import name``: the submodule when ``name`` is one, else ``module``."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import outside TYPE_CHECKING blocks."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found.append((_resolve(node.module, alias.name), node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


GRAPH = {
    name: [(target, line) for target, line in imports_of(path) if target.split(".")[0] == "seqvae"]
    for name, path in MODULES.items()
}


def test_every_module_has_a_layer():
    unknown = sorted({layer_of(m) for m in MODULES} - set(RANK))
    assert not unknown, f"modules outside the layer table: {unknown} (add them to docs/architecture.md)"


def test_no_import_runs_against_the_layers():
    violations = [
        f"{source}:{line} imports {target}"
        for source, targets in GRAPH.items()
        for target, line in targets
        if RANK[layer_of(target)] > RANK[layer_of(source)]
    ]
    assert not violations, "\n".join(violations)


def test_the_two_layers_of_one_rank_stay_apart():
    crossing = [
        f"{source}:{line} imports {target}"
        for source, targets in GRAPH.items()
        for target, line in targets
        if layer_of(source) != layer_of(target) and RANK[layer_of(source)] == RANK[layer_of(target)]
        and RANK[layer_of(source)] > RANK["errors"]
    ]  # fmt: skip
    assert not crossing, "\n".join(crossing)


def test_no_import_cycle():
    edges = {m: {t for t, _ in targets if t in MODULES and t != m} for m, targets in GRAPH.items()}
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    # the package root re-exports the API; submodules importing it would be a cycle, caught above
    assert not cycles, cycles


def test_only_plots_and_the_report_draw():
    drawing = [
        f"{source}:{line} imports {target}"
        for source, path in MODULES.items()
        for target, line in imports_of(path)
        if target.split(".")[0] in DRAWING and layer_of(source) not in DRAWING_ALLOWED
    ]
    assert not drawing, "\n".join(drawing)


@pytest.mark.parametrize("layer", ["analysis", "training", "models", "data", "io"])
def test_computing_layers_never_import_plots(layer):
    bad = [
        f"{source} imports {target}"
        for source, targets in GRAPH.items()
        if layer_of(source) == layer
        for target, _ in targets
        if layer_of(target) == "plots"
    ]
    assert not bad, bad
