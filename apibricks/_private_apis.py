"""Every private name of Python or of a dependency that apibricks uses, and what it earns.

The rule (issue 26): public APIs only, unless a private one saves at least 10 % of a
headline figure of docs/performance.md, measured before and after in one run. Each kept
here has a public fallback, so apibricks keeps working (slower) on a version where the
private name is gone, and ``tests/test_private_apis.py`` fails loudly there so that the
loss is noticed, and checks that no other module reaches for a private name.

Kept here, each with its figure and the test that fails when it stops working:

* ``signal._signal`` (`C_SIGNAL`, for the sync facade): ``tests/test_private_apis.py``.
* **Draft classes** (`draft_class`): a frozen attrs class refuses ``self.x = v``; its
  ``__init__`` stores each field through ``object.__setattr__`` (~50 ns a field, 53 for an
  organization). A subclass adding no slot and restoring ``object.__setattr__`` lets the
  interpreter store each field directly (~5 ns); the instance's ``__class__`` is then
  set to the model (a documented assignment between classes of the same layout) before
  anyone sees it. Measured 2026-12-04 (`python benchmarks/bench_decode.py`, loaded 2-core
  VM): decoding 10,000 invoices of one organization and 1,000 organizations x 1 both take
  ~24% longer through ``__init__`` (285 -> 353 ms and 125 -> 156 ms in that run).
  ``sys._is_gil_enabled`` tells when that is faster. ``tests/test_slots.py``.
"""

from __future__ import annotations

import signal
import sys
from typing import Any, Final

import attrs

__all__ = ["C_SIGNAL", "draft_class"]

# ``signal._signal``: the C functions behind ``signal.getsignal()`` and ``signal.signal()``.
# The public wrappers convert each handler to and from an enum in Python (a failed Enum
# lookup and its exception per call): a sync call from a script installs and removes its
# Ctrl-C handler each time, 21.5 µs through the wrappers against 1.6 µs (timeit, loaded
# 2-core VM). Figure earned: the sync facade's cost per call from a script, the headline
# "+37-52 µs": +29.9 µs (CPU +15.4 µs) with it against +59.5 µs (CPU +42.5 µs) with the
# public wrappers, side by side in one run (`bench_sync_overhead.py --before <public
# variant>`, 2026-12-04 17:45 UTC, load 16; benchmarks/README.md).
C_SIGNAL: Any = getattr(signal, "_signal", signal)

# Whether a GIL serialises this interpreter (False on free-threaded CPython, 3.13+): there,
# every ``__class__`` assignment stops all threads, and ``__init__`` is the faster way.
_GIL: Final[bool] = bool(getattr(sys, "_is_gil_enabled", lambda: True)())


def draft_class(model: type) -> tuple[type, tuple[str, ...]] | None:
    """A mutable twin of ``model`` and the extra slots to clear, or None to use ``__init__``.

    Only where attrs' ``__init__`` does nothing but store its arguments: slotted, no
    validators, converters, ``on_setattr`` or pre/post-init hooks, and no slot besides the
    fields but attrs' hash cache (which a new instance holds as None). The extra slots are
    returned so the builder clears them as ``__init__`` does.
    """
    if not _GIL or "__slots__" not in model.__dict__:
        return None
    if any(hasattr(model, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__")):
        return None
    fields = attrs.fields(model)
    if any(f.validator is not None or f.converter is not None or not f.init for f in fields):
        return None
    names = {f.name for f in fields}
    slots = [s for s in model.__dict__["__slots__"] if s != "__weakref__"]
    extra = tuple(s for s in slots if s not in names)
    if len(slots) - len(extra) != len(names) or len(extra) > 1:
        return None
    namespace = {
        "__slots__": (),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__module__": __name__,
    }
    draft = type(f"_{model.__name__}Draft", (model,), namespace)
    probe: Any = object.__new__(draft)
    try:
        probe.__class__ = model
    except TypeError:  # pragma: no cover - a layout CPython would not switch
        return None
    return draft, extra
