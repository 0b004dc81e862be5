"""Deterministic organizations and paid invoices, encoded as the Console API sends them.

Everything derives from a seeded ``random.Random`` whose seed is a BLAKE2 digest of the
organization part of the key (never ``hash()``, which changes per process), so a key gives
the same bytes in every run, on every machine. Timestamps are RFC 3339 ``date-time`` in UTC
with ``Z`` (0-7 fractional digits, trailing zeros trimmed), as the contract documents. With
``aspnet=True`` they imitate what an ASP.NET backend really writes instead: a mix of ``Z``,
``+00:00`` and no offset at all, and ``0001-01-01T00:00:00`` (``DateTime.MinValue``) where
the default writes ``null`` for ``pastDueSince``. Both modes draw the same random numbers,
so the instants are the same; only their spelling differs.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "DEFAULT_INVOICES_PER_ORG",
    "MAX_INVOICES",
    "invoices_payload",
    "streamed_invoices_payload",
    "wrongtype_payload",
]

DEFAULT_INVOICES_PER_ORG = 25
MAX_INVOICES = 100_000

_EPOCH_START = int(datetime(2019, 1, 1, tzinfo=timezone.utc).timestamp())
_EPOCH_END = int(datetime(2025, 6, 1, tzinfo=timezone.utc).timestamp())
_DAY = 86_400
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

_WORDS_A = ("Acme", "Blue", "Nordic", "Quantum", "Silver", "Crimson", "Atlas", "Polar", "Müller")
_WORDS_B = ("Robotics", "Analytics", "Logistics", "Labs", "Foods", "Systems", "Health", "Works")
_SUFFIXES = ("Inc.", "LLC", "GmbH", "Ltd", "S.A.S.", "K.K.", "AG", "& Söhne")
_PLACES = (
    ("US", "San Francisco", "CA", "94107"),
    ("US", "Austin", "TX", "78701"),
    ("DE", "München", None, "80331"),
    ("GB", "London", None, "EC1A 1BB"),
    ("FR", "Paris", "Île-de-France", "75002"),
    ("CH", "Zürich", "ZH", "8001"),
    ("JP", "Tokyo", "Tokyo", "100-0005"),
    ("BR", "São Paulo", "SP", "01310-100"),
    ("CA", "Toronto", "ON", "M5H 2N2"),
    ("AU", "Sydney", "NSW", "2000"),
)
_STREETS = ("Market St", "Main Street", "Hauptstraße", "King's Road", "Rue de Rivoli", "Elm Ave")
_TIERS = ("free", "starter", "pro", "business", "enterprise")
_CURRENCIES = ("usd", "usd", "usd", "eur", "eur", "gbp", "cad", "aud", "chf", "jpy")


def _rng(org: str) -> random.Random:
    digest = hashlib.blake2b(org.encode("utf-8"), digest_size=8, person=b"apibricks").digest()
    return random.Random(int.from_bytes(digest, "big"))


def _table(alphabet: str) -> bytes:
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


_ALNUM_TABLE = _table(_ALNUM)
_UPPER_TABLE = _table(_UPPER)


def _token(rng: random.Random, table: bytes, length: int) -> str:
    # One random byte per character, mapped through a table: ~20x faster than rng.choice.
    return rng.randbytes(length).translate(table).decode("ascii")


_ASPNET_MIN_VALUE = "0001-01-01T00:00:00"


def _timestamp(rng: random.Random, seconds: int, aspnet: bool) -> str:
    """One instant with a trimmed fraction, then ``Z`` (or, ASP.NET-style, Z/+00:00/nothing)."""
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = rng.getrandbits(3)
    if digits:
        value = rng.randrange(10 ** (digits - 1)) * 10 + rng.randrange(1, 10)
        text += f".{value:0{digits}d}"
    offset = rng.choice(("Z", "", "+00:00"))  # drawn in both modes: same data either way
    return text + (offset if aspnet else "Z")


def _maybe(rng: random.Random, probability: float, value: Any) -> Any:
    """``value`` with the given probability, else ``None`` (a nullable field left empty)."""
    return value if rng.random() < probability else None


@functools.lru_cache(maxsize=1024)
def _org_seed_data(org: str, aspnet: bool = False) -> tuple[dict[str, Any], int, str]:
    """The organization object, its creation time and its invoice-number prefix."""
    rng = _rng(org)

    def stamp(seconds: int) -> str:
        return _timestamp(rng, seconds, aspnet)

    created = rng.randrange(_EPOCH_START, _EPOCH_END - 400 * _DAY)
    name = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
    domain = name.split()[0].lower().replace("ü", "ue") + rng.choice((".io", ".com", ".de"))
    country, city, region, postal = rng.choice(_PLACES)
    auto = rng.randrange(2)
    spend = rng.randrange(2)
    past_due = 0 if rng.random() < 0.8 else rng.randrange(1, 5_000)
    suspended = rng.random() < 0.1
    total = rng.randrange(100, 2_000_000)
    last_y = rng.randrange(total + 1)
    last_q = rng.randrange(last_y + 1)
    last_m = rng.randrange(last_q + 1)
    last_w = rng.randrange(last_m + 1)

    def later(days: int) -> int:
        return rng.randrange(created, created + days * _DAY)

    org_object: dict[str, Any] = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "stripeId": "cus_" + _token(rng, _ALNUM_TABLE, 14),
        "name": name,
        "company": _maybe(rng, 0.9, f"{name} {rng.choice(_SUFFIXES)}"),
        "country": country,
        "address1": f"{rng.randrange(1, 999)} {rng.choice(_STREETS)}",
        "address2": _maybe(rng, 0.4, f"Suite {rng.randrange(100, 990)}"),
        "city": city,
        "postalCode": postal,
        "region": region,
        "purchaseOrder": _maybe(rng, 0.3, f"PO-{rng.randrange(100_000, 999_999)}"),
        "billingEmail": f"billing@{domain}",
        "autoRechargeEnabled": auto,
        "autoRechargeBalanceGoesBelowUsd": rng.choice((10, 20, 50, 100)) if auto else 0,
        "autoRechargeBalanceBackUpToUsd": rng.choice((100, 250, 500, 1000)) if auto else 0,
        "creditBalance": rng.randrange(-5_000, 250_000),
        "creditUninvoicedCurrent": rng.randrange(0, 50_000),
        "creditUninvoicedLimit": rng.choice((100_000, 500_000, 1_000_000)),
        "creditUsageYesterday": rng.randrange(0, 20_000),
        "creditUsageToday": rng.randrange(0, 20_000),
        "creditUsageTodayUpdatedAt": stamp(later(400)),
        "pastDueUsd": past_due,
        "pastDueSince": stamp(later(400)) if past_due else (_ASPNET_MIN_VALUE if aspnet else None),
        "apiKeysActiveCount": rng.randrange(1, 13),
        "ticketsLiveWaitOnProvider": rng.randrange(4),
        "ticketsLiveWaitOnCustomer": rng.randrange(4),
        "ticketsNotLive": rng.randrange(40),
        "totalPaidUsd": total,
        "totalPaidUsdLastW": last_w,
        "totalPaidUsdLastM": last_m,
        "totalPaidUsdLastQ": last_q,
        "totalPaidUsdLastY": last_y,
        "tier": rng.choice(_TIERS),
        "firstPaymentDate": stamp(later(30)),
        "lastAuditTrailEvent": stamp(later(400)),
        "usageInvoicedUpToExcl": stamp(later(400)),
        "paymentMethodsLiveCount": rng.randrange(4),
        "quotaThresholdLastNotification": _maybe(rng, 0.5, stamp(later(400))),
        "quotaExceededLastNotification": _maybe(rng, 0.3, stamp(later(400))),
        "allNotificationsEmail": _maybe(rng, 0.6, f"ops@{domain}"),
        "actionRequiredNotificationsEmail": _maybe(rng, 0.6, f"alerts@{domain}"),
        "creditsLowBalanceLastNotification": _maybe(rng, 0.4, stamp(later(400))),
        "timeCreated": stamp(created),
        "domainsCsv": _maybe(rng, 0.7, f"{domain},www.{domain}"),
        "teamMembersCount": rng.randrange(1, 41),
        "spendMgmtEnabled": spend,
        "spendMgmtCreditUsageDailyHardLimit": rng.randrange(1_000, 100_000) if spend else 0,
        "spendMgmtCreditUsageDailyNotifyThreshold": rng.randrange(500, 1_000) if spend else 0,
        "spendMgmtCreditUsageWebhookUrl": _maybe(rng, 0.3, f"https://hooks.{domain}/apibricks"),
        "slackChannelRequestedTime": _maybe(rng, 0.2, stamp(later(400))),
        "status": "suspended" if suspended else "active",
        "statusChangedTime": stamp(later(400)),
        "statusSuspendedReason": rng.choice(("payment_failed", "abuse_review"))
        if suspended
        else None,
    }
    return org_object, created, _token(rng, _UPPER_TABLE, 8)


def _dumps(value: Any) -> str:
    # Compact and ASCII-escaped, like System.Text.Json's defaults.
    return json.dumps(value, separators=(",", ":"))


class _PayloadCache:
    """An LRU of encoded bodies bounded by total bytes (5000-invoice bodies are ~10 MB)."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._size = 0
        self._items: collections.OrderedDict[tuple[str, str, int], bytes] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()  # a sandbox may serve from a thread

    def get(self, key: tuple[str, str, int], make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if (body := self._items.get(key)) is not None:
                self._items.move_to_end(key)
                return body
        body = make()
        with self._lock:
            if key not in self._items:
                self._items[key] = body
                self._size += len(body)
            while self._size > self._max_bytes and len(self._items) > 1:
                self._size -= len(self._items.popitem(last=False)[1])
        return body


_CACHE = _PayloadCache(256 * 1024 * 1024)


def invoices_payload(org: str, n: int, *, aspnet: bool = False) -> bytes:
    """The exact ``GET /invoices/paid`` body for ``org`` with ``n`` invoices (cached)."""
    kind = "aspnet" if aspnet else "ok"
    return _CACHE.get((kind, org, n), lambda: _encode(org, n, aspnet))


def wrongtype_payload(org: str, n: int, *, aspnet: bool = False) -> bytes:
    """A valid-JSON body where every ``organization.creditBalance`` is a string."""
    kind = "wrongtype-aspnet" if aspnet else "wrongtype"
    return _CACHE.get((kind, org, n), lambda: _wrongtype(org, n, aspnet))


def _encode(org: str, n: int, aspnet: bool) -> bytes:
    org_object, created, prefix = _org_seed_data(org, aspnet)
    rng = _rng(f"{org}/invoices")
    # The organization is encoded once and spliced into every invoice: identical by construction.
    tail = ',"organization":' + _dumps(org_object) + "}"
    starts = sorted(rng.randrange(created, _EPOCH_END) for _ in range(n))
    parts = []
    for index, start in enumerate(starts, 1):
        invoice = {
            "idOrganization": org_object["id"],
            "id": "in_" + _token(rng, _ALNUM_TABLE, 24),
            "invoiceNumber": f"{prefix}-{index:04d}",
            "created": _timestamp(rng, start, aspnet),
            "paidDate": _timestamp(rng, start + rng.randrange(1, 40 * _DAY), aspnet),
            "dueDate": _timestamp(rng, start + rng.choice((14, 30, 30, 45)) * _DAY, aspnet),
            "paid": True,
            "voided": False,
            "uncollectible": False,
            "status": "paid",
            "amountUsdCents": rng.randrange(100, 2_500_000),
            "currency": rng.choice(_CURRENCIES),
        }
        parts.append(_dumps(invoice)[:-1] + tail)
    return ("[" + ",".join(parts) + "]").encode("ascii")


def _wrongtype(org: str, n: int, aspnet: bool) -> bytes:
    balance = _org_seed_data(org, aspnet)[0]["creditBalance"]
    good = f'"creditBalance":{balance},'.encode()
    return invoices_payload(org, n, aspnet=aspnet).replace(
        good, f'"creditBalance":"{balance}",'.encode()
    )


_STREAM_BATCH = 2_000  # invoices per chunk of a streamed body (~4 MB)


def streamed_invoices_payload(org: str, n: int, *, aspnet: bool = False) -> Iterator[bytes]:
    """A body of ``n`` invoices made on the fly, chunk by chunk: any size, flat memory.

    The same organization as `invoices_payload` for ``org``, and invoices of the same
    shape, but drawn in a single pass (start times only ever grow, where the cached body
    sorts them), so ``n`` needs no memory. Deterministic too: one key, one body.
    """
    org_object, created, prefix = _org_seed_data(org, aspnet)
    rng = _rng(f"{org}/streamed")
    tail = ',"organization":' + _dumps(org_object) + "}"
    head = '{"idOrganization":' + _dumps(org_object["id"]) + ',"id":"in_'
    step = max(1, (_EPOCH_END - created) // max(n, 1))
    start = created
    yield b"["
    for first in range(1, n + 1, _STREAM_BATCH):
        parts = []
        for index in range(first, min(first + _STREAM_BATCH, n + 1)):
            start += rng.randrange(step) + 1
            paid = _timestamp(rng, start + rng.randrange(1, 40 * _DAY), aspnet)
            due = _timestamp(rng, start + rng.choice((14, 30, 30, 45)) * _DAY, aspnet)
            parts.append(
                f'{head}{_token(rng, _ALNUM_TABLE, 24)}","invoiceNumber":"{prefix}-{index:04d}",'
                f'"created":"{_timestamp(rng, start, aspnet)}","paidDate":"{paid}",'
                f'"dueDate":"{due}","paid":true,"voided":false,"uncollectible":false,'
                f'"status":"paid","amountUsdCents":{rng.randrange(100, 2_500_000)},'
                f'"currency":"{rng.choice(_CURRENCIES)}"{tail}'
            )
        yield ("," if first > 1 else "").encode() + ",".join(parts).encode("ascii")
    yield b"]"
