"""`import apibricks` and `apibricks --help` must not pay for aiohttp (or the decoder).

Each check runs in a fresh interpreter: this process has long imported everything.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import apibricks

HEAVY = ("aiohttp", "asyncio", "yarl", "cattrs", "orjson", "msgspec", "backoff")
# Loaded where used, never by `--help`: 6-23 ms each on the 2-core VM (attrs and
# dataclasses pull in inspect and ast; hashlib loads OpenSSL).
HELP_NEVER_NEEDS = ("attrs", "multidict", "pickle", "hashlib", "dataclasses")


def modules_after(code: str) -> set[str]:
    """Top-level packages imported by ``code`` in a fresh interpreter."""
    script = (
        f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split())


def test_import_apibricks_imports_no_aiohttp() -> None:
    loaded = modules_after("import apibricks")
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)


def test_help_imports_no_aiohttp() -> None:
    code = (
        "import contextlib, io\n"
        "from apibricks.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    assert main(['--help']) == 0\n"
        "assert 'usage: apibricks' in out.getvalue()\n"
    )
    loaded = modules_after(code)
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)
    assert loaded.isdisjoint(HELP_NEVER_NEEDS), loaded & set(HELP_NEVER_NEEDS)


@pytest.mark.parametrize(
    ("name", "heavy"),
    [("Invoice", "attrs"), ("DecodeError", None), ("AsyncClient", "aiohttp")],
)
def test_a_name_imports_what_it_needs_on_first_use(name: str, heavy: str | None) -> None:
    loaded = modules_after(f"import apibricks\napibricks.{name}")
    assert "aiohttp" not in loaded or heavy == "aiohttp"
    if heavy is not None:
        assert heavy in loaded


def test_every_public_name_resolves_and_unknown_names_raise() -> None:
    for name in apibricks.__all__:
        assert getattr(apibricks, name) is not None
    assert set(apibricks.__all__) <= set(dir(apibricks))
    with pytest.raises(AttributeError, match="no_such_name"):
        apibricks.no_such_name  # noqa: B018
