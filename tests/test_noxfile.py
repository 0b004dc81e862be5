"""``nox -s build`` leaves the checked sdist and wheel in ``dist/``, as ``python -m build``
does, so ``twine upload dist/*`` follows it; and git never sees ``dist/``.

The session runs with a stand-in for nox's ``Session`` (the tools it drives are slow and
need the network: the real session runs in CI): ``python -m build`` writes two artifacts
into the directory it is given, and the stand-in records every other command.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ("apibricks-9.9.9.tar.gz", "apibricks-9.9.9-py3-none-any.whl")


class SessionError(Exception):
    pass


class FakeSession:
    """What `noxfile.build` uses of `nox.Session`."""

    python = "3.11"

    def __init__(self, cli_output: str, install_only: bool = False) -> None:
        self.cli_output = cli_output
        self.install_only = install_only
        self.commands: list[tuple[str, ...]] = []

    def install(self, *args: str) -> None:
        self.commands.append(("install", *args))

    def run(self, *args: str, **_: Any) -> str | bool | None:
        """As nox's: the output of a silent command, True for the others, None for every
        command under ``nox --install-only`` (nothing runs)."""
        self.commands.append(args)
        if self.install_only:
            return None
        if args[:3] == ("python", "-m", "build"):
            outdir = Path(args[args.index("--outdir") + 1])
            outdir.mkdir(parents=True)
            for name in ARTIFACTS:
                (outdir / name).write_bytes(name.encode())
        return self.cli_output if args[-2:] == ("--format", "table") else True

    def error(self, message: str) -> None:
        raise SessionError(message)

    def log(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def chdir(self, path: str) -> Iterator[None]:
        yield


@functools.cache
def _load_noxfile() -> ModuleType:
    """Loaded once: loading registers its sessions with nox, which warns on a second time."""
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def noxfile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """The project's noxfile, its ``dist/`` moved to a temporary directory."""
    monkeypatch.setenv("PATH", "")  # loading it puts pyenv's pythons on PATH: undone after
    monkeypatch.setenv("APIBRICKS_CI_PYTHONS", "3.11")
    module = _load_noxfile()
    monkeypatch.setattr(module, "DIST", tmp_path / "dist")
    return module


def test_build_leaves_the_checked_artifacts_in_dist(noxfile: ModuleType, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "apibricks-0.1.0.tar.gz").write_bytes(b"an older release")
    (dist / ARTIFACTS[1]).write_bytes(b"a stale build of the same version")
    session = FakeSession("INVOICE ...\n25 invoices from 1 organization, total 1.00 USD\n")
    noxfile.build.func(session)  # the function under nox's decorator
    assert sorted(p.name for p in dist.iterdir()) == sorted([*ARTIFACTS, "apibricks-0.1.0.tar.gz"])
    for name in ARTIFACTS:  # this build's, replacing the stale one
        assert (dist / name).read_bytes() == name.encode()
    assert (dist / "apibricks-0.1.0.tar.gz").read_bytes() == b"an older release"
    checked = [c for c in session.commands if c[:2] == ("twine", "check")]
    assert checked and {Path(p).name for p in checked[0][3:]} == set(ARTIFACTS)


def test_a_failed_check_leaves_nothing_in_dist(noxfile: ModuleType, tmp_path: Path) -> None:
    session = FakeSession("Traceback (most recent call last): ...")  # the wheel's CLI broke
    with pytest.raises(SessionError, match="printed no invoices"):
        noxfile.build.func(session)
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())


def test_install_only_installs_and_checks_nothing(noxfile: ModuleType, tmp_path: Path) -> None:
    """``.ci/run`` makes every venv first with ``nox --install-only``: the build session then
    installs its tools and ends, with nothing built to check (and no error for it)."""
    session = FakeSession("", install_only=True)
    noxfile.build.func(session)
    assert session.commands[0][0] == "install"
    assert not (tmp_path / "dist").exists()


def test_git_ignores_dist(tmp_path: Path) -> None:
    """Checked in a repository made here with the project's ``.gitignore`` (the sdist ships
    it), so the check runs the same from a clone and from an unpacked sdist."""
    git = shutil.which("git")
    assert git is not None, "git is needed to check what it ignores"
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    subprocess.run([git, "init", "--quiet", str(tmp_path)], check=True)
    for name in ARTIFACTS:
        ignored = subprocess.run(
            [git, "check-ignore", "--quiet", f"dist/{name}"], cwd=tmp_path, check=False
        )
        assert ignored.returncode == 0, f"dist/{name} is not ignored by git"
