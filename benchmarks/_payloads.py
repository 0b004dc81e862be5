"""Realistic ``GET /invoices/paid`` bodies for the benchmarks, built by the sandbox.

The bytes are exactly what the sandbox (and, by its contract, the Console API) sends:
compact ASCII-escaped JSON, every invoice embedding its full organization (~2 KB), ASP.NET
timestamps with 0-7 fractional digits and ``Z``, ``+00:00`` or no offset.

`relayout` re-encodes the same data the ways a server could change without changing what
it means (key order, a new field, indentation), for the "layout-proof" decode cases.
"""

from __future__ import annotations

import json
import random
from itertools import chain, zip_longest
from typing import Any

from apibricks import sandbox

__all__ = ["LAYOUTS", "many_orgs", "one_org", "relayout", "shuffled"]


def one_org(n: int, org: str = "bench") -> bytes:
    """``n`` invoices of one organization: one real response body."""
    return sandbox.make_invoices_payload(f"sk_sandbox_{org}", n)


def many_orgs(orgs: int, per_org: int) -> bytes:
    """``orgs`` organizations with ``per_org`` invoices each, interleaved round-robin.

    One body holding many organizations (a merged export, the worst case for sharing
    organization instances): consecutive invoices never belong to the same organization.
    Re-encoding with the sandbox's own settings keeps each invoice byte-identical.
    """
    bodies = [json.loads(one_org(per_org, f"org{index:03d}")) for index in range(orgs)]
    merged = [item for item in chain.from_iterable(zip_longest(*bodies)) if item is not None]
    return json.dumps(merged, separators=(",", ":")).encode("ascii")


def _organization_first(invoice: dict[str, Any]) -> dict[str, Any]:
    return {"organization": invoice["organization"], **invoice}


def _new_fields(invoice: dict[str, Any]) -> dict[str, Any]:
    organization = {**invoice["organization"], "billingPortalUrl": "https://billing.example/x"}
    return {**invoice, "organization": organization, "taxUsdCents": 0}


def shuffled(value: Any, rng: random.Random) -> Any:
    """``value`` with the keys of every object in a new order (``_drift_payloads`` too)."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


def relayout(body: bytes, layout: str) -> bytes:
    """The same invoices, laid out as ``layout`` (one of `LAYOUTS`)."""
    if layout == "compact":
        return body
    data = json.loads(body)
    if layout == "pretty":
        return json.dumps(data, indent=2).encode("ascii")
    if layout == "organization first":
        data = [_organization_first(invoice) for invoice in data]
    elif layout == "new fields":
        data = [_new_fields(invoice) for invoice in data]
    elif layout == "keys shuffled":
        data = shuffled(data, random.Random(13))
    else:
        raise ValueError(layout)
    return json.dumps(data, separators=(",", ":")).encode("ascii")


LAYOUTS = ("compact", "organization first", "new fields", "pretty", "keys shuffled")
