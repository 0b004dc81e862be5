"""Every check CI runs, runnable the same way on a laptop: ``nox`` (or ``nox -s NAME``).

Interpreters: only one CPython is usually on PATH, the others live under pyenv. They are
put on PATH here, and a missing one is an error, never a silent skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
ROOT = Path(__file__).parent

nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "generate_check", "tests", "soak_quick", "bench_quick"]


def _pyenv_root() -> str | None:
    if root := os.environ.get("PYENV_ROOT"):
        return root
    if shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    default = Path.home() / ".pyenv"
    return str(default) if default.is_dir() else None


def _put_pyenv_pythons_on_path() -> None:
    root = _pyenv_root()
    if root is None:
        return
    dirs: list[str] = []
    for version in PYTHONS:
        candidates = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin")))
        if candidates:
            dirs.append(candidates[-1])
    os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])


_put_pyenv_pythons_on_path()


def _install(session: nox.Session, *groups: str, editable: bool = True) -> None:
    args = ["-e", "."] if editable else ["."]
    for group in groups:
        args += ["--group", group]
    session.install(*args)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite with coverage, on every supported CPython."""
    _install(session, "test")
    session.run(
        "pytest",
        "--cov",
        "--cov-report=term",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={"COVERAGE_FILE": str(ROOT / f".coverage.{session.python}")},
    )


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("--group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package (the generated sync facade included)."""
    _install(session, "typecheck")
    session.run("mypy", "--strict", "apibricks")


@nox.session(python="3.11")
def generate(session: nox.Session) -> None:
    """Regenerate the sync facade from the async source (``-- --check`` to only compare)."""
    _install(session)
    session.run("python", "scripts/generate_sync.py", *session.posargs)


@nox.session(name="generate_check", python="3.11")
def generate_check(session: nox.Session) -> None:
    """Fail when the committed sync facade differs from a fresh generation."""
    _install(session)
    session.run("python", "scripts/generate_sync.py", "--check")


@nox.session(python="3.11")
def soak(session: nox.Session) -> None:
    """The full fault soak: 10,000 requests with injected faults (see tests/soak)."""
    _install(session, "test", "bench")
    session.run("python", "-X", "dev", "benchmarks/soak.py", *session.posargs)


@nox.session(name="soak_quick", python="3.11")
def soak_quick(session: nox.Session) -> None:
    """A shortened soak for CI."""
    _install(session, "test", "bench")
    session.run("python", "-X", "dev", "benchmarks/soak.py", "--quick")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """All benchmarks, full mode (the figures in benchmarks/README.md)."""
    _install(session, "bench", editable=False)
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session(name="bench_quick", python="3.11")
def bench_quick(session: nox.Session) -> None:
    """A smoke run of every benchmark, small sizes, for CI."""
    _install(session, "bench", editable=False)
    session.run("python", "benchmarks/run_all.py", "--quick")
