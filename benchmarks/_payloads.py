"""Realistic ``GET /invoices/paid`` bodies for the benchmarks, built by the sandbox.

The bytes are exactly what the sandbox (and, by its contract, the Console API) sends:
compact ASCII-escaped JSON, every invoice embedding its full organization (~2 KB), ASP.NET
timestamps with 0-7 fractional digits and ``Z``, ``+00:00`` or no offset.
"""

from __future__ import annotations

import json
from itertools import chain, zip_longest

from apibricks import sandbox

__all__ = ["many_orgs", "one_org"]


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
