"""No import circles among tsm_tf's modules: the library never reaches back into what uses it.

Read from the source with `ast` (nothing is imported), so an import inside a
function counts as much as one at the top: a lazy import still makes the two
modules depend on each other.
"""

import ast
import graphlib
import pathlib

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent.parent / "tsm_tf"


def module_names():
    """Every module of the package by dotted name, to its file."""
    modules = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_modules(name, path, modules):
    """The package's modules that `name` imports anywhere in its file (top level or in functions)."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
    return {target for target in targets if target in modules and target != name}


def import_graph():
    modules = module_names()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def test_the_reader_sees_imports_at_any_depth():
    """The reader is not blind: it finds a known top-level, lazy and package import."""
    graph = import_graph()
    assert "tsm_tf.data.video_io" in graph["tsm_tf.data.dataset_writer"]  # top level
    assert "tsm_tf.presets.export" in graph["tsm_tf.cli.stream"]  # inside a function
    assert "tsm_tf.presets" in graph["tsm_tf.cli.evaluate"]  # a package's __init__


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        raise AssertionError(
            "Import circle: " + " -> ".join(reversed(cycle)) + ". A library module must not "
            "import what imports it (move the shared code into a module both can import)."
        ) from None
