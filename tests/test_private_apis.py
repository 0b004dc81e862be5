"""Private names of Python and of dependencies: only where ``apibricks/_private_apis.py``
lists them with the figure they earn, and each still working on this Python (issue 26
item 2). A failure here means a Python or dependency release took one away: apibricks
still works through the public fallback, slower; re-measure, then keep or drop it."""

from __future__ import annotations

import ast
import signal
import sys
from pathlib import Path

import pytest

from apibricks import _private_apis

ROOT = Path(__file__).resolve().parent.parent
# The modules allowed to hold private names, each listing them with their figures and
# tested for them (the sync facade's signal functions, the decoder's draft classes).
EXEMPT = {"apibricks/_private_apis.py"}


def test_signal_c_functions_are_still_there() -> None:
    assert _private_apis.C_SIGNAL is not signal, (
        f"signal._signal is gone on Python {sys.version.split()[0]}: the sync facade now "
        "installs its Ctrl-C handler through the public wrappers (~20 µs more per call "
        "from a script). Re-measure with benchmarks/bench_sync_overhead.py and update "
        "apibricks/_private_apis.py."
    )


def test_signal_c_functions_agree_with_the_public_ones() -> None:
    """What the sync facade relies on: the same handler objects in and out, no conversion."""
    fast = _private_apis.C_SIGNAL

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGINT)
    assert fast.getsignal(signal.SIGINT) is before
    try:
        assert fast.signal(signal.SIGINT, handler) is before
        assert signal.getsignal(signal.SIGINT) is handler
        assert fast.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, before)  # type: ignore[arg-type]


def private_names(path: Path) -> list[str]:
    """Each use of a private name of another package in ``path``: ``module._name``,
    ``from module import _name`` and ``getattr(module, "_name")``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    foreign: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            foreign |= {
                (a.asname or a.name).split(".")[0]
                for a in node.names
                if not a.name.startswith("apibricks")
            }
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if (node.module or "").startswith("apibricks"):
                continue
            for alias in node.names:
                foreign.add(alias.asname or alias.name)
                if _private(alias.name):
                    found.append(
                        f"{path.name}:{node.lineno}: from {node.module} import {alias.name}"
                    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in foreign:
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr", "delattr"}
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in foreign
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


SOURCES = sorted(
    str(path.relative_to(ROOT))
    for folder in ("apibricks", "scripts")
    for path in (ROOT / folder).rglob("*.py")
    if str(path.relative_to(ROOT)) not in EXEMPT
)


@pytest.mark.parametrize("source", SOURCES)
def test_no_private_names_of_other_packages(source: str) -> None:
    assert private_names(ROOT / source) == [], "use the public API, or list it in _private_apis.py"


def test_the_scan_finds_each_form_of_private_use(tmp_path: Path) -> None:
    """The scan itself: each form it promises to catch is caught, and own names are not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asyncio\nimport concurrent.futures as cf\nfrom signal import _signal\n"
        "from . import _own\nimport apibricks._sync\n"
        "asyncio._get_running_loop()\ncf.thread._python_exit\n"
        "getattr(asyncio, '_set_running_loop')\nself._x\n_own._y\napibricks._sync\n"
        "asyncio.__name__\n",
        encoding="utf-8",
    )
    assert sorted(line.split(": ", 1)[1] for line in private_names(sample)) == [
        "asyncio._get_running_loop",
        "cf.thread._python_exit",
        "from signal import _signal",
        "getattr(asyncio, '_set_running_loop')",
    ]
