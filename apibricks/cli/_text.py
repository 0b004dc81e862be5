"""Text for one terminal line (kept apart so that error paths import nothing heavy)."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(text: str) -> str:
    """``text`` safe for one terminal line: control characters (escapes, CR, LF) replaced."""
    return "".join(char if char.isprintable() else "\N{REPLACEMENT CHARACTER}" for char in text)
