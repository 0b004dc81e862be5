"""The one exception the command line raises for its users' mistakes."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """A mistake in the command line or its inputs: reported in one line, exit status 2."""
