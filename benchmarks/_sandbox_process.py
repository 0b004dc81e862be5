"""The sandbox in its own process, so a benchmark's client never shares a loop or a core
with the server it measures against."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator

_URL_RE = re.compile(r"listening on (http://\S+)")


@contextlib.contextmanager
def sandbox_process(invoices: int, latency: float = 0.0, *flags: str) -> Iterator[str]:
    """``python -m apibricks.sandbox`` on a free port (``flags``: e.g. its limiter's); yields
    its base URL."""
    command = [sys.executable, "-m", "apibricks.sandbox", "--port", "0"]
    command += ["--invoices", str(invoices), "--latency", str(latency), *flags]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if match := _URL_RE.search(line):
                break
        else:
            raise RuntimeError(f"the sandbox exited ({process.wait()}) before listening")
        yield match.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
