"""A real peer: the client openapi-python-client 0.29 generates from the API's OpenAPI document.

Generated at run time into a temporary directory (never committed) from the spec the
sandbox ships (``apibricks/sandbox/openapi.json``) or ``--spec``/``$APIBRICKS_BENCH_SPEC``.
Without the spec or the generator, the peer is skipped with a printed note.
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["PACKAGE", "generated_peer"]

PACKAGE = "apibricks_openapi_peer"
IN_REPO_SPEC = Path(__file__).resolve().parent.parent / "apibricks" / "sandbox" / "openapi.json"
_cache: dict[str, Any] = {}


def _spec() -> Path | None:
    candidates = [os.environ.get("APIBRICKS_BENCH_SPEC"), IN_REPO_SPEC]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def generated_peer() -> ModuleType | None:
    """The generated package (``.models.Invoice``, ``.api.invoices``, ``.client``), or None."""
    if "peer" in _cache:
        return _cache["peer"]  # type: ignore[no-any-return]
    _cache["peer"] = peer = _generate()
    return peer


def _generate() -> ModuleType | None:
    spec = _spec()
    generator = shutil.which("openapi-python-client") or str(
        Path(sys.executable).with_name("openapi-python-client")
    )
    if spec is None:
        print(
            f"_note: openapi-python-client peer skipped: no spec at {IN_REPO_SPEC}_",
            file=sys.stderr,
        )
        return None
    if not Path(generator).exists():
        print(
            "_note: openapi-python-client peer skipped: generator not installed_", file=sys.stderr
        )
        return None
    root = Path(tempfile.mkdtemp(prefix="apibricks-peer-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    result = subprocess.run(
        [
            generator,
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if not (root / PACKAGE / "__init__.py").exists():
        print(
            f"_note: openapi-python-client peer skipped: {result.stderr.strip()[-300:]}_",
            file=sys.stderr,
        )
        return None
    sys.path.insert(0, str(root))
    package = importlib.import_module(PACKAGE)
    importlib.import_module(f"{PACKAGE}.models")
    importlib.import_module(f"{PACKAGE}.api.invoices.get_paid_invoices")
    return package
