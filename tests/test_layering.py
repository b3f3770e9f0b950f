"""The package layers README's Layout section promises, checked on the source (issue 16).

Every `engine.*` import (module level or inside a function; annotation-only imports under
`if TYPE_CHECKING:` excepted) is read with `ast`, and each package's rule is applied:
io reads files only, dialects translate at the edge, generators serve tests and benchmarks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"

# package prefix -> engine modules its files may import (prefix match)
RULES = {
    "engine.io": ("engine.errors", "engine.io"),
    "engine.dialects": ("engine.errors", "engine.io", "engine.dialects", "engine.stimuli.registry"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def engine_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported engine module) of every run-time import in `path`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skipped.update(id(child) for body in node.body for child in ast.walk(body))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("engine")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "engine":
                found += [(node.lineno, f"engine.{a.name}") for a in node.names]
            elif node.module.startswith("engine."):
                found.append((node.lineno, node.module))
    return found


SOURCES = sorted(ENGINE.rglob("*.py"))


def test_the_check_sees_the_engine() -> None:
    """The walk finds the packages the rules name, and reads imports from them."""
    names = {_module_name(p) for p in SOURCES}
    assert {"engine.io.morphology", "engine.dialects.neuroml.synapses"} <= names
    nodes = ENGINE / "managers" / "cells" / "nodes.py"
    assert any(m.startswith("engine.managers") for _, m in engine_imports(nodes))


@pytest.mark.parametrize("package", sorted(RULES))
def test_lower_layers_never_import_higher_ones(package: str) -> None:
    allowed = RULES[package]
    wrong = [
        f"{path.relative_to(ENGINE.parent)}:{line} imports {module}"
        for path in SOURCES
        if _module_name(path).startswith(package)
        for line, module in engine_imports(path)
        if not module.startswith(allowed)
    ]
    assert not wrong, "\n".join(wrong)


def test_only_tests_benchmarks_and_examples_use_the_generators() -> None:
    wrong = [
        f"{path.relative_to(ENGINE.parent)}:{line} imports {module}"
        for path in SOURCES
        if not _module_name(path).startswith(
            ("engine.generate", "engine.dialects.neuroml.examples")
        )
        for line, module in engine_imports(path)
        if module.startswith("engine.generate")
    ]
    assert not wrong, "\n".join(wrong)
