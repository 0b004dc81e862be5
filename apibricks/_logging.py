"""The ``apibricks`` logger's switch: ``APIBRICKS_LOG=info|debug``, or `configure`.

Like ``OPENAI_LOG``: the variable is read when apibricks is imported, and configures a
stderr handler only when set. ``info`` shows one line per retry; ``debug`` adds one
line per attempt. The CLI's ``-v/--verbose`` calls `configure` too.
"""

from __future__ import annotations

import logging
import os
from typing import Final

__all__ = ["LOG_ENV", "configure", "configure_from_env", "logger"]

LOG_ENV: Final = "APIBRICKS_LOG"
logger: Final = logging.getLogger("apibricks")

_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}
_FORMAT: Final = "[%(asctime)s %(levelname)s %(name)s] %(message)s"


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure` installed, so calling it again replaces rather than adds."""


def configure(level: str | int) -> None:
    """Send the ``apibricks`` logger's records at ``level`` and above to stderr.

    ``level`` is ``"info"``, ``"debug"`` (any case) or a `logging` level number.
    Calling it again changes the level; it never adds a second handler.
    """
    if isinstance(level, str):
        try:
            number = _LEVELS[level.strip().lower()]
        except KeyError:
            raise ValueError(
                f"Unknown apibricks log level {level!r}; use one of: {', '.join(_LEVELS)}."
            ) from None
    else:
        number = level
    for handler in [h for h in logger.handlers if isinstance(h, _OurHandler)]:
        logger.removeHandler(handler)
    handler = _OurHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(number)


def configure_from_env() -> None:
    """Apply ``$APIBRICKS_LOG`` when set; an unknown value is ignored rather than fatal."""
    value = os.environ.get(LOG_ENV, "").strip().lower()
    if value in _LEVELS:
        configure(value)
