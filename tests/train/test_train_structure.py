"""The training package reads top-down: imports flow one way (no cycle, not even inside functions), no
private name crosses a module, no file is much over 300 lines (docs/architecture.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import zoo

PACKAGE = Path(zoo.__file__).parent / "train"


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in the file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
    return found


def module_name(path: Path) -> str:
    return "zoo.train" if path.name == "__init__.py" else f"zoo.train.{path.stem}"


def test_training_imports_flow_one_way():
    graph = {}
    for path in PACKAGE.glob("*.py"):
        deps = set()
        for module, names in imports_of(path):
            if module == "zoo.train":  # `from zoo.train import losses`
                deps |= {f"zoo.train.{n}" for n in names}
            elif module.startswith("zoo.train."):
                deps.add(module)
        graph[module_name(path)] = deps - {module_name(path)}
    graph.pop("zoo.train.loop")  # the deprecated alias re-exports everything
    order, state = [], {}

    def visit(node, chain):
        assert state.get(node) != "open", f"import cycle: {' -> '.join(chain + [node])}"
        if node in state:
            return
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            visit(dep, chain + [node])
        state[node] = "done"
        order.append(node)

    for node in sorted(graph):
        visit(node, [])
    assert "zoo.train.api" not in set().union(*(graph[m] for m in graph if m != "zoo.train"))


def test_no_private_names_cross_modules_and_files_stay_short():
    for path in PACKAGE.glob("*.py"):
        for module, names in imports_of(path):
            private = [n for n in names if n.startswith("_") and module.startswith("zoo")]
            assert not private, f"{path.name} imports private {private} from {module}"
        assert len(path.read_text().splitlines()) <= 310, f"{path.name} is long: split it"
