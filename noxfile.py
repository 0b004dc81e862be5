"""Every check CI runs, runnable the same way on a laptop: ``nox`` (or ``nox -s NAME``).

Interpreters: CPython 3.10-3.14 are supported. Those found (on PATH, or under pyenv, whose
versions are put on PATH here) each run the tests; the others are named in one line and
skipped, so ``pip install nox && nox`` passes on a machine with a single CPython >= 3.10.
``.ci/run`` lists the interpreters it found in ``$APIBRICKS_CI_PYTHONS``: then each of them
is required, and one nox cannot find is an error, never a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nox

SUPPORTED = ["3.10", "3.11", "3.12", "3.13", "3.14"]
ROOT = Path(__file__).parent
CI_PYTHONS_ENV = "APIBRICKS_CI_PYTHONS"

nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv|virtualenv"
# The default run; all but ``tests`` are tagged "checks" (single-interpreter sessions).
nox.options.sessions = [
    "lint",
    "typecheck",
    "generate_check",
    "tests",
    "docs",
    "build",
    "soak_quick",
    "bench_quick",
]


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
    for version in SUPPORTED:
        candidates = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin")))
        if candidates:
            dirs.append(candidates[-1])
    os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])


def _pythons() -> list[str]:
    """The interpreters to test on: all that CI found (required), else all found here."""
    if required := os.environ.get(CI_PYTHONS_ENV, "").split():
        nox.options.error_on_missing_interpreters = True
        return required
    found = [v for v in SUPPORTED if shutil.which(f"python{v}")]
    tested = found or [f"{sys.version_info.major}.{sys.version_info.minor}"]
    missing = [v for v in SUPPORTED if v not in tested]
    if "--list" not in sys.argv and "-l" not in sys.argv:
        skipped = f"; not found, skipped: {', '.join(missing)}" if missing else ""
        print(f"nox: testing on CPython {', '.join(tested)}{skipped}", file=sys.stderr)
    return tested


_put_pyenv_pythons_on_path()
PYTHONS = _pythons()
# Single-interpreter sessions (lint, docs, build, ...) run on 3.11 when it is there.
MAIN = "3.11" if "3.11" in PYTHONS else PYTHONS[0]


def _workers() -> int:
    """pytest-xdist workers: one per usable CPU, plus one.

    A worker spends about a third of its time waiting on loopback servers and subprocesses,
    so one more fills the idle CPU (2 CPUs, CPython 3.11, coverage on: 1 worker 244 s,
    2 workers 140 s, 3 workers 124 s).
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) + 1
    return (os.cpu_count() or 1) + 1


def _install(session: nox.Session, *groups: str, editable: bool = True) -> None:
    args = ["-e", "."] if editable else ["."]
    for group in groups:
        args += ["--group", group]
    session.install(*args)


def _coverage_args(python: object) -> list[str]:
    """pytest-cov's arguments: coverage is measured on MAIN only.

    Every version runs the whole suite; the tracer adds no check but costs CPU: 2.5x on the
    in-process tests (CPython 3.11: 28.3 s of CPU with coverage against 10.4 s without, the
    same three test modules), the largest item of a CI run with four interpreters.
    """
    return ["--cov", "--cov-report=term"] if python == MAIN else []


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on every CPython found (module docstring); coverage on MAIN only."""
    _install(session, "test")
    code = session.run(
        "pytest",
        # worksteal: the few long tests (rate limits, CLI runs) do not leave a worker idle.
        # Pass -n 0 after -- to run in one process.
        f"--numprocesses={_workers()}",
        "--dist=worksteal",
        *_coverage_args(session.python),
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env={"COVERAGE_FILE": str(ROOT / f".coverage.{session.python}")},
        success_codes=[0, 5],
    )
    if code == 5:  # pytest's "no tests collected"
        if not session.posargs:
            session.error("pytest collected no tests: the suite is missing")
        session.warn(f"no test matched {' '.join(session.posargs)!r}")


@nox.session(python=MAIN, tags=["checks"])
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("--group", "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=MAIN, tags=["checks"])
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package (the generated sync facade included)."""
    _install(session, "typecheck")
    session.run("mypy", "--strict", "apibricks")


@nox.session(python=MAIN, tags=["checks"])
def docs(session: nox.Session) -> None:
    """Build the MkDocs site with ``--strict``: a broken link or reference fails.

    ``nox -s docs -- serve`` serves it with live reload instead (``mkdocs serve``).
    """
    _install(session, "docs")
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:])
        return
    with tempfile.TemporaryDirectory() as site:
        session.run("mkdocs", "build", "--strict", "--site-dir", site)


DIST = ROOT / "dist"


@nox.session(python=MAIN, tags=["checks"])
def build(session: nox.Session) -> None:
    """sdist and wheel, ``twine check``, then the wheel alone in a fresh venv runs the CLI;
    the checked artifacts are left in ``dist/`` (as ``python -m build``), for ``twine upload``.
    """
    session.install("--group", "build")
    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp, "dist")  # this build's alone: nothing older is checked or kept
        built = session.run("python", "-m", "build", "--installer", "uv", "--outdir", str(dist))
        if built is None:  # ``nox --install-only`` (.ci/run): nothing ran, nothing to check
            return
        wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            session.error(f"expected one wheel and one sdist, got {sorted(dist.iterdir())}")
        session.run("twine", "check", "--strict", *map(str, [*wheels, *sdists]))
        fresh = Path(tmp, "fresh")
        python = fresh / ("Scripts" if sys.platform == "win32" else "bin") / "python"
        session.run("uv", "venv", "--quiet", "--python", session.python, str(fresh))
        session.run("uv", "pip", "install", "--quiet", "--python", str(python), str(wheels[0]))
        apibricks = python.with_name("apibricks")
        # From an empty directory, so only the installed wheel can be imported.
        with session.chdir(tmp):
            command = [str(apibricks), "invoices", "paid", "--sandbox", "--format", "table"]
            shown = session.run(*command, external=True, silent=True) or ""
        if "25 invoices" not in shown:
            session.error(f"the installed wheel's CLI printed no invoices:\n{shown}")
        session.log(shown.strip().splitlines()[-1])
        kept = keep_artifacts([*sdists, *wheels], DIST)
    session.log(f"checked and left in {DIST.name}/: {', '.join(path.name for path in kept)}")


def keep_artifacts(artifacts: list[Path], dist: Path) -> list[Path]:
    """Copy checked artifacts into ``dist`` (replacing same-named ones, keeping the rest)."""
    dist.mkdir(exist_ok=True)
    return [Path(shutil.copy2(artifact, dist / artifact.name)) for artifact in artifacts]


@nox.session(python=MAIN)
def generate(session: nox.Session) -> None:
    """Regenerate the sync facade from the async source (``-- --check`` to only compare)."""
    _install(session, "lint")  # the generator lays its output out with ruff
    session.run("python", "scripts/generate_sync.py", *session.posargs)


@nox.session(name="generate_check", python=MAIN, tags=["checks"])
def generate_check(session: nox.Session) -> None:
    """Fail when the committed sync facade differs from a fresh generation."""
    _install(session, "lint")
    session.run("python", "scripts/generate_sync.py", "--check")


@nox.session(python=MAIN)
def soak(session: nox.Session) -> None:
    """The full fault soak: 10,000 requests with injected faults (see tests/soak)."""
    _install(session, "test", "bench")
    session.run("python", "-X", "dev", "benchmarks/soak.py", *session.posargs)


@nox.session(name="soak_quick", python=MAIN, tags=["checks"])
def soak_quick(session: nox.Session) -> None:
    """A shortened soak for CI."""
    _install(session, "test", "bench")
    session.run("python", "-X", "dev", "benchmarks/soak.py", "--quick")


@nox.session(python=MAIN)
def bench(session: nox.Session) -> None:
    """All benchmarks, full mode (the figures in benchmarks/README.md)."""
    _install(session, "bench", editable=False)
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session(name="bench_quick", python=MAIN, tags=["checks"])
def bench_quick(session: nox.Session) -> None:
    """A smoke run of every benchmark, small sizes, for CI."""
    _install(session, "bench", editable=False)
    session.run("python", "benchmarks/run_all.py", "--quick")
