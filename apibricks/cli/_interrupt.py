"""What an interrupted run says: what it kept, and the exact command that resumes it.

A ``--resume`` run has committed every organization it finished (the ledger says which),
so the line names the command to rerun: the user's own arguments, ``--resume`` included,
and never a key (``--api-key`` is dropped: the key goes in ``$APIBRICKS_API_KEY``). Any
other run cannot be resumed, and the line says why.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from .._auth import API_KEY_ENV
from ._args import PROG

__all__ = ["interrupted_note", "resume_command"]

_API_KEY = "--api-key"


def _names_api_key(word: str) -> bool:
    """``--api-key``, or an abbreviation argparse accepts (``--api``), ``=VALUE`` or not."""
    option = word.split("=", 1)[0]
    return len(option) > 2 and _API_KEY.startswith(option)


def resume_command(argv: Sequence[str]) -> tuple[str, bool]:
    """The command that resumes a run of ``argv``, and whether it dropped an ``--api-key``."""
    words: list[str] = []
    dropped = skip_next = False
    for word in argv:
        if skip_next:
            skip_next = False
        elif _names_api_key(word):
            dropped = True
            skip_next = "=" not in word
        else:
            words.append(word)
    if "--resume" not in words:
        words.append("--resume")
    return shlex.join([PROG, *words]), dropped


def interrupted_note(
    what: str, argv: Sequence[str], output: Path | None, resumable: bool, saved: int
) -> str:
    """The one line after ``what`` ("interrupted", "terminated") for this run."""
    if resumable and output is not None:
        command, dropped = resume_command(argv)
        key = f" (with the key in ${API_KEY_ENV})" if dropped else ""
        organizations = "organization" if saved == 1 else "organizations"
        return f"{what}; {saved:,} {organizations} saved in {output}, resume with: {command}{key}"
    if output is None:
        return f"{what}; nothing saved: output to stdout cannot be resumed (no -o)"
    return (
        f"{what}; {output} left as it was: a run without --resume cannot be resumed "
        "(-o FILE.jsonl --resume keeps what each run fetched)"
    )
