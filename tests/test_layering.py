"""The package's modules import each other in one direction (a ladder, not a circle)."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tsm_tf"


def import_graph():
    """Module name -> the tsm_tf modules it imports, at its top or inside functions."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tsm_tf"):
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    imported.add(submodule if submodule in modules else node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names if alias.name in modules)
        graph[name] = imported - {name}
    return graph


def reachable(graph, start):
    seen, frontier = set(), [start]
    while frontier:
        for module in graph.get(frontier.pop(), ()):
            if module not in seen:
                seen.add(module)
                frontier.append(module)
    return seen


def test_models_and_presets_do_not_import_each_other_in_a_circle():
    graph = import_graph()
    circles = [
        module
        for module in graph
        if module.startswith(("tsm_tf.models", "tsm_tf.presets"))
        and module in reachable(graph, module)
    ]
    assert circles == [], f"modules that import themselves through others: {circles}"
