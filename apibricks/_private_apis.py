"""Every private name of Python or of a dependency that apibricks uses, and what it earns.

The rule (issue 26): public APIs only, unless a private one saves at least 10 % of a
headline figure of docs/performance.md, measured before and after in one run. Each kept
here has a public fallback, so apibricks keeps working (slower) on a version where the
private name is gone, and ``tests/test_private_apis.py`` fails loudly there so that the
loss is noticed, and checks that no other module reaches for a private name.

The decoder's one shortcut beyond attrs (draft classes switched to the frozen model, and
``sys._is_gil_enabled`` to know when that is faster) lives beside the code it serves, in
``apibricks/_slots.py``, with its figure and ``tests/test_slots.py``.
"""

from __future__ import annotations

import signal
from typing import Any

__all__ = ["C_SIGNAL"]

# ``signal._signal``: the C functions behind ``signal.getsignal()`` and ``signal.signal()``.
# The public wrappers convert each handler to and from an enum in Python (a failed Enum
# lookup and its exception per call): a sync call from a script installs and removes its
# Ctrl-C handler each time, 21.5 µs through the wrappers against 1.6 µs (timeit, loaded
# 2-core VM). Figure earned: the sync facade's cost per call from a script, the headline
# "+37-52 µs": +29.9 µs (CPU +15.4 µs) with it against +59.5 µs (CPU +42.5 µs) with the
# public wrappers, side by side in one run (`bench_sync_overhead.py --before <public
# variant>`, 2026-12-04 17:45 UTC, load 16; benchmarks/README.md).
C_SIGNAL: Any = getattr(signal, "_signal", signal)
