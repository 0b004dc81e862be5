"""Parsing the sandbox key and fault grammar (documented in ``apibricks.sandbox``)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ._data import MAX_INVOICES

__all__ = ["FAULT_HEADER", "KEY_PREFIX", "Fault", "FaultSyntaxError", "Scenario", "parse"]

KEY_PREFIX = "sk_sandbox_"
FAULT_HEADER = "X-Sandbox-Fault"

_ORG = re.compile(r"[A-Za-z0-9._-]{1,200}")
_COUNT = re.compile(r"(?P<body>.+?)x(?P<times>\d+)")
_NUMBER = r"\d+(?:\.\d+)?"
_STATUS = re.compile(
    rf"(?P<code>[45]\d\d)(?:(?P<bare>bare)|r(?P<secs>{_NUMBER})|(?P<date>date)(?P<dsecs>{_NUMBER})?)?"
)
_DELAY = re.compile(rf"(?P<kind>slow|latency)(?P<amount>{_NUMBER})?")
_INVOICES = re.compile(r"n(?P<n>\d+)")
_STREAMED = re.compile(r"big(?P<n>\d+)")
_MODES = frozenset({"aspnet"})
_ANSWERS = frozenset(
    {"reset", "disconnect", "truncate", "malformed", "wrongtype", "redirect", "redirectother"}
)


class FaultSyntaxError(ValueError):
    """An item in a key or ``X-Sandbox-Fault`` header that the grammar does not know."""


@dataclass(frozen=True)
class Fault:
    kind: str  # "status", one of _ANSWERS, or "delay"
    times: int | None = None  # None: every attempt
    status: int = 0
    retry_after: float | None = None
    retry_after_date: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """What to do with requests for one key (+ header): invoice count, answers and delays."""

    invoices: int | None = None
    answers: tuple[Fault, ...] = ()
    delays: tuple[Fault, ...] = ()
    aspnet: bool = False  # timestamps as ASP.NET writes them, not RFC 3339
    streamed: bool = False  # made on the fly and sent as it is made (``big<count>``)

    def answer(self, attempt: int) -> Fault | None:
        """The injected answer for the 1-based ``attempt``, or None for a normal 200."""
        for fault in self.answers:
            if fault.times is None or attempt <= fault.times:
                return fault
            attempt -= fault.times
        return None

    def delay(self, attempt: int) -> float:
        return sum(f.delay for f in self.delays if f.times is None or attempt <= f.times)

    def merged(self, other: Scenario) -> Scenario:
        return Scenario(
            other.invoices if other.invoices is not None else self.invoices,
            self.answers + other.answers,
            self.delays + other.delays,
            self.aspnet or other.aspnet,
            other.streamed if other.invoices is not None else self.streamed,
        )


def _item(token: str) -> Fault | int | str | _Streamed:
    """One item: an invoice count (int, or `_Streamed`), a mode (str) or a Fault."""
    if token in _MODES:
        return token
    if m := _STREAMED.fullmatch(token):
        return _Streamed(int(m["n"]))
    if m := _INVOICES.fullmatch(token):
        n = int(m["n"])
        if n > MAX_INVOICES:
            raise FaultSyntaxError(f"at most {MAX_INVOICES} invoices, not {n}")
        return n
    body, times = token, None
    if m := _COUNT.fullmatch(token):
        body, times = m["body"], int(m["times"])
    if m := _STATUS.fullmatch(body):
        code = int(m["code"])
        after: float | None = None
        if m["secs"] is not None:
            after = float(m["secs"])
        elif m["date"] is not None:
            after = float(m["dsecs"] or 1)
        elif code == 429 and m["bare"] is None:
            after = 1.0
        return Fault("status", times, code, after, m["date"] is not None)
    if m := _DELAY.fullmatch(body):
        if m["amount"] is None and m["kind"] == "latency":
            raise FaultSyntaxError("'latency' needs milliseconds, e.g. 'latency20'")
        amount = float(m["amount"] or 10)
        return Fault("delay", times, delay=amount / 1000 if m["kind"] == "latency" else amount)
    if body in _ANSWERS:
        return Fault(body, times)
    raise FaultSyntaxError(f"unknown sandbox fault {token!r}")


class _Streamed(int):
    """An invoice count to make on the fly: no upper bound."""


def _items(text: str) -> Scenario:
    invoices: int | None = None
    streamed = False
    answers: list[Fault] = []
    delays: list[Fault] = []
    modes: set[str] = set()
    for token in re.split(r"[~,]", text):
        token = token.strip().lower()
        if not token:
            continue
        item = _item(token)
        if isinstance(item, str):
            modes.add(item)
        elif isinstance(item, int):
            invoices, streamed = int(item), isinstance(item, _Streamed)
        elif item.kind == "delay":
            delays.append(item)
        else:
            answers.append(item)
    return Scenario(invoices, tuple(answers), tuple(delays), "aspnet" in modes, streamed)


@functools.lru_cache(maxsize=4096)
def parse(key: str | None, header: str | None = None) -> tuple[str, Scenario] | None:
    """``(org, scenario)`` for a sandbox key, None if it is not one (a 401).

    Raises FaultSyntaxError for an item the grammar does not know (a 400).
    """
    if key is None or not key.startswith(KEY_PREFIX):
        return None
    org, _, rest = key[len(KEY_PREFIX) :].partition("~")
    if not _ORG.fullmatch(org):
        return None
    scenario = _items(rest)
    if header:
        scenario = scenario.merged(_items(header))
    return org, scenario
