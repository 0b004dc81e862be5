"""CPU instructions a Python child process runs, as callgrind counts them.

Shared by the instruction benchmarks (``bench_instructions.py``,
``bench_sync_instructions.py``): an instruction count does not move with the machine's
load, as wall time does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping, Sequence

_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions_of(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Instructions of ``python *argv`` (this interpreter) under callgrind, start to exit."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, *argv]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode or found is None:
        raise RuntimeError(f"valgrind run of {list(argv)} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))
