"""The request path's modules import downward only (the order docs/development.md draws).

Read from the source (type-only imports included): a module that reaches back up, such
as the engine or a resource importing the client, is a knot only its authors can untie.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import apibricks

ASYNC = Path(apibricks.__file__).parent / "_async"
# Top to bottom: each module may import only those after it.
LAYERS = ["_client", "_fan_out", "_resources", "_transport", "_streaming", "_pacing"]


def siblings_imported(module: str) -> set[str]:
    """The ``_async`` modules that ``module`` imports, at any depth of its code."""
    tree = ast.parse((ASYNC / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found & set(LAYERS)


def test_the_layers_name_every_module_of_the_core() -> None:
    modules = {path.stem for path in ASYNC.glob("*.py")} - {"__init__"}
    assert modules == set(LAYERS)


@pytest.mark.parametrize("module", LAYERS)
def test_no_arrow_runs_back_up(module: str) -> None:
    below = set(LAYERS[LAYERS.index(module) + 1 :])
    assert siblings_imported(module) <= below


def test_the_pace_is_passed_not_ambient() -> None:
    """No context variable carries state between the fan-out and the transport."""
    for path in ASYNC.glob("*.py"):
        assert "contextvars" not in path.read_text(encoding="utf-8"), path.name
