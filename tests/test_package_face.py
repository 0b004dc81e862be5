"""What ``import apibricks`` shows: the public API only, every name of it reachable, lazily.

Checks that depend on what this process has imported run in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import apibricks
from apibricks import _defaults

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "apibricks"
HEAVY = ("aiohttp", "asyncio", "yarl", "cattrs", "orjson", "backoff", "attrs", "pytest")
# Every module of the package not marked private by a leading underscore.
SUBMODULES = sorted(
    module.name for module in pkgutil.iter_modules(apibricks.__path__) if module.name[0] != "_"
)


def fresh(code: str) -> dict[str, object]:
    """Run ``code`` (which sets ``result``) in a fresh interpreter; its result and modules."""
    script = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps({'result': result, "
        "'modules': sorted({m.split('.')[0] for m in sys.modules})}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return json.loads(output)  # type: ignore[no-any-return]


def test_the_public_submodules_are_the_package_s_unprivate_modules() -> None:
    assert SUBMODULES == ["cli", "dask", "pytest_plugin", "sandbox"]


def test_dir_lists_only_the_public_api_and_imports_nothing() -> None:
    seen = fresh("import apibricks\nresult = dir(apibricks)")
    assert seen["result"] == sorted({*apibricks.__all__, *SUBMODULES})
    assert set(HEAVY).isdisjoint(seen["modules"])  # type: ignore[arg-type]


def test_dir_stays_the_public_api_once_everything_is_loaded() -> None:
    for name in dir(apibricks):
        getattr(apibricks, name)
    assert dir(apibricks) == sorted({*apibricks.__all__, *SUBMODULES})
    for leaked in ("Any", "TYPE_CHECKING", "annotations", "importlib"):
        assert leaked not in dir(apibricks)


def test_every_name_dir_shows_resolves_without_an_import_statement() -> None:
    seen = fresh(
        "import types, apibricks\n"
        "result = sorted(name for name in dir(apibricks)\n"
        "    if getattr(apibricks, name, None) is None\n"
        "    or isinstance(getattr(apibricks, name), types.ModuleType)\n"
        "    and getattr(apibricks, name).__name__ != 'apibricks.' + name)"
    )
    assert seen["result"] == []


def test_star_import_gives_exactly_all() -> None:
    seen = fresh(
        "names = set(globals())\nfrom apibricks import *\n"
        "result = sorted(set(globals()) - names - {'names'})"
    )
    assert seen["result"] == sorted(apibricks.__all__)


def test_no_extra_installs_nothing() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    extras = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    uncommented = re.sub(r"#.*", "", extras)  # no '#' inside these requirement strings
    declared = re.findall(r"^([\w-]+) = \[(.*)\]\s*$", uncommented, re.MULTILINE)
    assert declared, extras
    assert [name for name, requirements in declared if not requirements.strip()] == []


def _module_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names.update(target.id for target in targets if isinstance(target, ast.Name))
    return names


def test_no_module_declares_a_setting_s_default_again() -> None:
    """`_defaults.SETTINGS` is the one declaration (``_limits`` had its own body cap)."""
    again = {f"DEFAULT_{name.upper()}" for name in _defaults.SETTINGS}
    found = {
        (str(path.relative_to(ROOT)), name)
        for path in PACKAGE.rglob("*.py")
        for name in _module_level_names(path) & again
    }
    assert found == set()
