"""Bodies nobody tuned the decoder for (issue 29): the sandbox's data, re-encoded apart.

Each body starts from the sandbox's invoices but is re-encoded with the standard library
(UTF-8 kept, not ASCII-escaped), after changing what a real server may change without
changing the contract: an unknown nested object inside the organization and an array
after it, organizations whose texts share their first 64 bytes (same first fields, the id
further in), keys in a new order in every object, and timestamps in every spelling the
API sends (0-7 fraction digits; ``Z``, ``+00:00`` or no offset) beside non-ASCII text and
nulls. Nothing here knows how the decoder finds organizations.
"""

from __future__ import annotations

import json
import random
from itertools import chain, zip_longest
from typing import Any

from _payloads import one_org, shuffled

__all__ = ["DRIFT_SHAPES", "drift_body"]

NESTED_KEY = "someFieldAddedLater"


def _invoices(orgs: int, per_org: int) -> list[dict[str, Any]]:
    """``per_org`` invoices of each of ``orgs`` organizations, round-robin, as dicts."""
    bodies = [json.loads(one_org(per_org, f"drift{index:04d}")) for index in range(orgs)]
    return [item for item in chain.from_iterable(zip_longest(*bodies)) if item is not None]


def _nested(invoice: dict[str, Any]) -> dict[str, Any]:
    """An unknown object in the middle of the organization, an unknown array after it."""
    organization = dict(invoice["organization"])
    items = list(organization.items())
    middle = len(items) // 2
    organization = dict([*items[:middle], (NESTED_KEY, {"x": 1}), *items[middle:]])
    return {**invoice, "organization": organization, "lineItems": [{"sku": "a", "n": 2}, [1, 2]]}


_SHARED_HEAD = {  # the first fields of every organization: more than 64 bytes, all alike
    "country": "US",
    "tier": "business",
    "status": "active",
    "autoRechargeEnabled": 0,
    "spendMgmtEnabled": 0,
    "pastDueUsd": 0,
    "pastDueSince": None,
}


def _shared_prefix(invoice: dict[str, Any]) -> dict[str, Any]:
    """The organization's first 64+ bytes equal in every organization; its id further in."""
    organization = {**_SHARED_HEAD, **invoice["organization"], **_SHARED_HEAD}
    ordered = {key: organization[key] for key in _SHARED_HEAD}
    ordered.update((k, v) for k, v in organization.items() if k not in ordered)
    return {**invoice, "organization": ordered}


_NAMES = ("Müller & Söhne GmbH", "Société Générale Café", "東京テック株式会社", "Ølstad Ærø AS")


def _respelled(value: Any, rng: random.Random) -> Any:
    """Every timestamp in a spelling the API sends; some names non-ASCII; some values null."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if (
                isinstance(item, str)
                and len(item) >= 19
                and item[4:5] == "-"
                and item[10:11] == "T"
            ):
                base = item[:19]
                digits = rng.randrange(8)
                fraction = "." + "".join(rng.choice("0123456789") for _ in range(digits))
                item = base + (fraction if digits else "") + rng.choice(("Z", "+00:00", ""))
            elif key in ("name", "company", "city") and rng.random() < 0.5:
                item = rng.choice(_NAMES)
            elif key in ("address2", "purchaseOrder", "region", "tier") and rng.random() < 0.5:
                item = None
            out[key] = _respelled(item, rng)
        return out
    if isinstance(value, list):
        return [_respelled(item, rng) for item in value]
    return value


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


# (shape, layout) -> (organizations, invoices each, rewrite of the invoice list)
DRIFT_SHAPES: dict[tuple[str, str], tuple[int, int, str]] = {
    ("1 organization x 10,000", "nested unknown field"): (1, 10_000, "nested"),
    ("100 organizations x 100", "first 64 bytes shared"): (100, 100, "shared"),
    ("100 organizations x 100", "shared + nested"): (100, 100, "shared nested"),
    ("1 organization x 10,000", "keys shuffled (re-encoded)"): (1, 10_000, "shuffled"),
    ("1,000 organizations x 1", "variety"): (1_000, 1, "variety"),
}


def drift_body(orgs: int, per_org: int, rewrite: str, seed: int = 29) -> bytes:
    """The invoices of ``orgs`` x ``per_org``, rewritten as ``rewrite`` says, re-encoded."""
    data = _invoices(orgs, per_org)
    rng = random.Random(seed)
    if "shared" in rewrite:
        data = [_shared_prefix(invoice) for invoice in data]
    if "nested" in rewrite:
        data = [_nested(invoice) for invoice in data]
    if "shuffled" in rewrite:
        data = shuffled(data, rng)
    if "variety" in rewrite:
        data = _respelled(data, rng)
    return _encode(data)
