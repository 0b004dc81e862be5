"""The one place apibricks goes beyond attrs' and Python's everyday means, and what it buys.

Everything else builds models through attrs' generated ``__init__`` (public, and always
correct). Each entry here is kept only because it earned at least 10% on a headline
figure of docs/performance.md, measured side by side in one run, and
`tests/test_slots.py` fails loudly on a Python or attrs release where it stops working.

* **Draft classes** (`draft_class`): a frozen attrs class refuses ``self.x = v``; its
  ``__init__`` stores each field through ``object.__setattr__`` (~50 ns a field, 53 for an
  organization). A subclass adding no slot and restoring ``object.__setattr__`` lets the
  interpreter store each field directly (~5 ns); the instance's ``__class__`` is then
  set to the model (a documented assignment between classes of the same layout) before
  anyone sees it. Measured 2026-12-04 (`python benchmarks/bench_decode.py`, loaded 2-core
  VM): decoding 10,000 invoices of one organization and 1,000 organizations x 1 both take
  ~24% longer through ``__init__`` (285 -> 353 ms and 125 -> 156 ms in that run).
"""

from __future__ import annotations

import sys
from typing import Any, Final

import attrs

__all__ = ["draft_class"]

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
