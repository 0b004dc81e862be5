"""Decode benchmark: a ``GET /invoices/paid`` body (bytes) -> typed objects.

Contenders, all fed the same bytes in the same process, interleaved run by run:

* ``json.loads`` / ``orjson.loads`` alone: plain dicts, no types. The floors.
* ``orjson.loads`` + free: the same, the dicts also freed inside the timing, as every
  decoder that parses fully and then builds objects frees them: the floor of that design
  (the summary shows it beside apibricks).
* apibricks ``decode_invoices``: attrs models through cattrs, one shared ``Organization``
  per organization and response.
* msgspec Structs (``rename="camel"``, UUID/datetime fields): the practical limit.
* pydantic v2 ``TypeAdapter(list[Invoice]).validate_json`` and
  ``validate_python(json.loads(...))`` (``alias_generator=to_camel``, UUID/datetime fields).
* a hand-written ``from_dict`` into attrs classes, the style openapi-python-client
  generates (``Invoice.from_dict(d)``), parsing timestamps with ``datetime.fromisoformat``.
  It is leaner than real generated code (no per-field parse closures, no dict copy, no
  ``additional_properties``), so it flatters that style.

The peer models are derived from ``apibricks.Invoice`` / ``apibricks.Organization`` (same
fields, same types, same required/optional split), so every contender does the same job.
Before timing, every typed contender's output is checked equal, field by field, to
apibricks' (msgspec rounds a 7th fractional digit where the others truncate: timestamps
may differ by 1 us).

Timing: each round runs every contender once, in rotating order; the table shows the
median (and min) over the rounds. The garbage collector stays on, as in a real program
(``--no-gc`` switches it off during each timed call, like ``timeit``). A one-invoice body
(what each call of a fan-out decodes) is timed as a batch of calls per round, per call.

No contender keeps anything from one call to the next: apibricks' caches (organizations,
UUIDs) live for one response, so repeated rounds cost what a new response costs, as in a
fan-out where every id is new.

    python benchmarks/bench_decode.py [--quick] [--rounds N] [--no-gc] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import msgspec
import orjson
import pydantic
from _drift_payloads import DRIFT_SHAPES, drift_body
from _openapi_peer import generated_peer
from _payloads import LAYOUTS, many_orgs, one_org, relayout
from pydantic.alias_generators import to_camel

import apibricks

UTC = timezone.utc

# --- peer models, derived from the apibricks attrs models ----------------------------------


def _peer_fields(model: type, organization: type) -> list[tuple[str, Any, Any]]:
    """(name, type, default or attrs.NOTHING) per field, ``Organization`` swapped for a peer."""
    return [
        (f.name, organization if f.type is apibricks.Organization else f.type, f.default)
        for f in attrs.fields(attrs.resolve_types(model))
    ]


class _PydanticBase(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(alias_generator=to_camel, frozen=True)


def _pydantic_model(model: type, organization: type) -> type[pydantic.BaseModel]:
    fields: dict[str, Any] = {
        name: (tp, ... if default is attrs.NOTHING else default)
        for name, tp, default in _peer_fields(model, organization)
    }
    return pydantic.create_model(model.__name__, __base__=_PydanticBase, **fields)


def _msgspec_struct(model: type, organization: type) -> type[msgspec.Struct]:
    fields = [
        (name, tp) if default is attrs.NOTHING else (name, tp, default)
        for name, tp, default in _peer_fields(model, organization)
    ]
    return msgspec.defstruct(model.__name__, fields, kw_only=True, frozen=True, rename="camel")


def _plain_attrs_class(model: type) -> type:
    """A mutable slotted attrs class like openapi-python-client's ``@_attrs_define``."""
    fields = {
        name: attrs.field(default=default, kw_only=True)
        for name, _, default in _peer_fields(model, object)
    }
    return attrs.make_class(model.__name__, fields, slots=True)


PydanticOrganization = _pydantic_model(apibricks.Organization, object)
PydanticInvoice = _pydantic_model(apibricks.Invoice, PydanticOrganization)
MsgspecOrganization = _msgspec_struct(apibricks.Organization, object)
MsgspecInvoice = _msgspec_struct(apibricks.Invoice, MsgspecOrganization)
AttrsOrganization = _plain_attrs_class(apibricks.Organization)
AttrsInvoice = _plain_attrs_class(apibricks.Invoice)

# --- the hand-written from_dict contender ---------------------------------------------------


def _isoparse(text: str | None) -> datetime | None:
    """ISO 8601 -> aware datetime; ``Z`` rewritten for ``fromisoformat``, no offset = UTC."""
    if text is None:
        return None
    if text[-1] == "Z":
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)  # 3.11+: any number of fractional digits
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def organization_from_dict(d: dict[str, Any]) -> Any:
    return AttrsOrganization(
        id=uuid.UUID(d["id"]),
        stripe_id=d.get("stripeId"),
        name=d.get("name"),
        company=d.get("company"),
        country=d.get("country"),
        address1=d.get("address1"),
        address2=d.get("address2"),
        city=d.get("city"),
        postal_code=d.get("postalCode"),
        region=d.get("region"),
        purchase_order=d.get("purchaseOrder"),
        billing_email=d.get("billingEmail"),
        auto_recharge_enabled=d["autoRechargeEnabled"],
        auto_recharge_balance_goes_below_usd=d["autoRechargeBalanceGoesBelowUsd"],
        auto_recharge_balance_back_up_to_usd=d["autoRechargeBalanceBackUpToUsd"],
        credit_balance=d["creditBalance"],
        credit_uninvoiced_current=d["creditUninvoicedCurrent"],
        credit_uninvoiced_limit=d["creditUninvoicedLimit"],
        credit_usage_yesterday=d["creditUsageYesterday"],
        credit_usage_today=d["creditUsageToday"],
        credit_usage_today_updated_at=_isoparse(d.get("creditUsageTodayUpdatedAt")),
        past_due_usd=d["pastDueUsd"],
        past_due_since=_isoparse(d.get("pastDueSince")),
        api_keys_active_count=d["apiKeysActiveCount"],
        tickets_live_wait_on_provider=d["ticketsLiveWaitOnProvider"],
        tickets_live_wait_on_customer=d["ticketsLiveWaitOnCustomer"],
        tickets_not_live=d["ticketsNotLive"],
        total_paid_usd=d["totalPaidUsd"],
        total_paid_usd_last_w=d["totalPaidUsdLastW"],
        total_paid_usd_last_m=d["totalPaidUsdLastM"],
        total_paid_usd_last_q=d["totalPaidUsdLastQ"],
        total_paid_usd_last_y=d["totalPaidUsdLastY"],
        tier=d.get("tier"),
        first_payment_date=_isoparse(d.get("firstPaymentDate")),
        last_audit_trail_event=_isoparse(d.get("lastAuditTrailEvent")),
        usage_invoiced_up_to_excl=_isoparse(d.get("usageInvoicedUpToExcl")),
        payment_methods_live_count=d["paymentMethodsLiveCount"],
        quota_threshold_last_notification=_isoparse(d.get("quotaThresholdLastNotification")),
        quota_exceeded_last_notification=_isoparse(d.get("quotaExceededLastNotification")),
        all_notifications_email=d.get("allNotificationsEmail"),
        action_required_notifications_email=d.get("actionRequiredNotificationsEmail"),
        credits_low_balance_last_notification=_isoparse(d.get("creditsLowBalanceLastNotification")),
        time_created=_isoparse(d.get("timeCreated")),
        domains_csv=d.get("domainsCsv"),
        team_members_count=d["teamMembersCount"],
        spend_mgmt_enabled=d["spendMgmtEnabled"],
        spend_mgmt_credit_usage_daily_hard_limit=d["spendMgmtCreditUsageDailyHardLimit"],
        spend_mgmt_credit_usage_daily_notify_threshold=d[
            "spendMgmtCreditUsageDailyNotifyThreshold"
        ],
        spend_mgmt_credit_usage_webhook_url=d.get("spendMgmtCreditUsageWebhookUrl"),
        slack_channel_requested_time=_isoparse(d.get("slackChannelRequestedTime")),
        status=d.get("status"),
        status_changed_time=_isoparse(d.get("statusChangedTime")),
        status_suspended_reason=d.get("statusSuspendedReason"),
    )


def invoice_from_dict(d: dict[str, Any]) -> Any:
    return AttrsInvoice(
        id_organization=uuid.UUID(d["idOrganization"]),
        id=d.get("id"),
        invoice_number=d.get("invoiceNumber"),
        created=_isoparse(d.get("created")),
        paid_date=_isoparse(d.get("paidDate")),
        due_date=_isoparse(d.get("dueDate")),
        paid=d["paid"],
        voided=d["voided"],
        uncollectible=d["uncollectible"],
        status=d.get("status"),
        amount_usd_cents=d["amountUsdCents"],
        currency=d.get("currency"),
        organization=organization_from_dict(d["organization"]),
    )


# --- contenders -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    decode: Callable[[bytes], list[Any]]
    typed: bool = True


def _loads_and_free(body: bytes) -> range:
    """``orjson.loads``, its dicts freed before returning (a range, for the count check)."""
    return range(len(orjson.loads(body)))


_pydantic_adapter = pydantic.TypeAdapter(list[PydanticInvoice])
_msgspec_decoder = msgspec.json.Decoder(list[MsgspecInvoice])

CONTENDERS: tuple[Contender, ...] = (
    Contender("json", "`json.loads` alone (floor)", json.loads, typed=False),
    Contender("orjson", "`orjson.loads` alone (floor)", orjson.loads, typed=False),
    Contender(
        "orjson_free",
        "`orjson.loads` + free (floor of a full parse)",
        _loads_and_free,
        typed=False,
    ),
    Contender("apibricks", "**apibricks `decode_invoices`**", apibricks.decode_invoices),
    Contender("msgspec", "msgspec Structs (limit)", _msgspec_decoder.decode),
    Contender("pydantic_json", "pydantic v2 `validate_json`", _pydantic_adapter.validate_json),
    Contender(
        "pydantic_python",
        "pydantic v2 `validate_python(json.loads(b))`",
        lambda body: _pydantic_adapter.validate_python(json.loads(body)),
    ),
    Contender(
        "from_dict",
        "attrs `from_dict` (openapi-python-client style)",
        lambda body: [invoice_from_dict(d) for d in json.loads(body)],
    ),
)
_peer = generated_peer()
if _peer is not None:
    _PeerInvoice = _peer.models.Invoice
    CONTENDERS = (
        *CONTENDERS,
        Contender(
            "openapi_client",
            "openapi-python-client 0.29 generated `Invoice.from_dict`",
            lambda body: [_PeerInvoice.from_dict(d) for d in json.loads(body)],
        ),
    )
CONTENDERS_BY_KEY = {c.key: c for c in CONTENDERS}

# --- correctness ----------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Any contender's object -> nested dicts of plain values; datetimes aware UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if attrs.has(type(value)):  # generated peers also keep unknown keys: not compared
        fields = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
        return {name: plain(getattr(value, name)) for name in fields}
    if isinstance(value, pydantic.BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    return value


_ONE_MICROSECOND = timedelta(microseconds=1)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, datetime) and isinstance(b, datetime):
        return abs(a - b) <= _ONE_MICROSECOND  # msgspec rounds the 7th digit, others truncate
    return type(a) is type(b) and a == b


def check_equal(contenders: Sequence[Contender], body: bytes, expected_count: int) -> None:
    """Raise AssertionError unless every contender decodes ``body`` to the same invoices."""
    decoded = apibricks.decode_invoices(body)
    assert len(decoded) == expected_count, (len(decoded), expected_count)
    # A spread sample of ~200 invoices, first and last included: comparing every field of
    # every invoice in Python would take longer than all the timing.
    sample = sorted({*range(0, expected_count, max(1, expected_count // 200)), expected_count - 1})
    reference = {index: plain(decoded[index]) for index in sample}
    for contender in contenders:
        result = contender.decode(body)
        assert len(result) == expected_count, (contender.key, len(result), expected_count)
        if not contender.typed:
            continue
        for index in sample:
            assert _same(plain(result[index]), reference[index]), (contender.key, index)


# --- timing ---------------------------------------------------------------------------------


def measure(
    contenders: Sequence[Contender], body: bytes, rounds: int, *, gc_off: bool, calls: int = 1
) -> dict[str, list[float]]:
    """Seconds per decode of ``body``, per contender; round r starts at contender r.

    Each round times ``calls`` decodes in a row (for a small body, one call is too short
    to time alone) and records their mean.
    """
    times: dict[str, list[float]] = {c.key: [] for c in contenders}
    batch = range(calls)
    for r in range(-1, rounds):  # round -1 warms up and is not recorded
        shift = r % len(contenders)
        for contender in (*contenders[shift:], *contenders[:shift]):
            decode = contender.decode
            gc.collect()
            if gc_off:
                gc.disable()
            start = time.perf_counter()
            for _ in batch:
                result = decode(body)
            elapsed = time.perf_counter() - start
            gc.enable()
            del result
            if r >= 0:
                times[contender.key].append(elapsed / calls)
    return times


def _ms(seconds: float) -> str:
    """Milliseconds, with more digits below one (a one-invoice body takes microseconds)."""
    return f"{seconds * 1e3:,.1f}" if seconds >= 1e-3 else f"{seconds * 1e3:.4f}"


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    median: float
    minimum: float


def table(rows: Sequence[Row], count: int) -> str:
    """Markdown: ms per body, us per invoice, ratios to json.loads and pydantic validate_json."""
    by_key = {row.key: row for row in rows}
    json_loads = by_key["json"].median
    pydantic_json = by_key["pydantic_json"].median
    lines = [
        f"| Contender | ms / {count:,} (median) | ms (min) | µs / invoice "
        "| vs `json.loads` | vs pydantic `validate_json` |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {_ms(row.median)} | {_ms(row.minimum)} "
            f"| {row.median * 1e6 / count:,.2f} | {row.median / json_loads:.2f}x "
            f"| {row.median / pydantic_json:.2f}x |"
        )
    return "\n".join(lines)


def run_payload(
    title: str,
    body: bytes,
    count: int,
    rounds: int,
    *,
    gc_off: bool,
    profile: bool,
    calls: int = 1,
) -> dict[str, Row]:
    if profile:
        print(f"[decode] {title}: cProfile of apibricks", file=sys.stderr, flush=True)
        profile_apibricks(body)
    print(f"[decode] {title}: checking equality ...", file=sys.stderr, flush=True)
    check_equal(CONTENDERS, body, count)
    print(f"[decode] {title}: timing {rounds} rounds ...", file=sys.stderr, flush=True)
    times = measure(CONTENDERS, body, rounds, gc_off=gc_off, calls=calls)
    rows = {
        c.key: Row(c.key, c.label, statistics.median(times[c.key]), min(times[c.key]))
        for c in CONTENDERS
    }
    size = f"{len(body) / 1e6:,.1f} MB" if len(body) > 100_000 else f"{len(body):,} bytes"
    per = f" of {calls:,} calls each" if calls > 1 else ""
    print(f"**{title}** — {size}, median of {rounds} interleaved rounds{per}")
    print()
    print(table(list(rows.values()), count))
    print()
    print(
        f"Decoded {count:,} invoices; a spread sample of them equal field by field across all "
        "typed contenders: yes.",
    )
    print()
    return rows


def verdict(ratio: float, limit: float) -> str:
    return f"**{'PASS' if ratio <= limit else 'MISS'}** ({ratio:.2f}x, target ≤ {limit:.1f}x)"


def profile_apibricks(body: bytes, top: int = 25) -> None:
    """cProfile of apibricks' decode_invoices, printed to stderr."""
    apibricks.decode_invoices(body)
    profiler = cProfile.Profile()
    profiler.enable()
    apibricks.decode_invoices(body)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue(), file=sys.stderr)


Shape = tuple[str, str, Callable[[], bytes], int, int]


def shapes(quick: bool) -> list[Shape]:
    """(shape, layout, body factory, invoice count, calls per round): issue 13's table.

    Plus one invoice alone (the body each call of a fan-out decodes) and issue 29's
    shapes, built apart from the sandbox's layout: an unknown nested object in the
    organization and an array after it, organizations sharing their first 64 bytes, both,
    keys shuffled per object, and 1,000 x 1 with every timestamp spelling and non-ASCII.
    """
    one, orgs, per_org, singles = (1_000, 10, 50, 100) if quick else (10_000, 100, 100, 1_000)
    rows: list[Shape] = []
    for layout in LAYOUTS:
        rows.append(
            (
                f"1 organization x {one:,}",
                layout,
                lambda lay=layout: relayout(one_org(one), lay),
                one,
                1,
            )
        )
    for layout in ("compact", "new fields", "keys shuffled"):
        rows.append(
            (
                f"{orgs} organizations x {per_org}",
                layout,
                lambda lay=layout: relayout(many_orgs(orgs, per_org), lay),
                orgs * per_org,
                1,
            )
        )
    rows.append(
        (f"{singles:,} organizations x 1", "compact", lambda: many_orgs(singles, 1), singles, 1)
    )
    rows.append(
        ("1 invoice (one fan-out call)", "compact", lambda: one_org(1), 1, 50 if quick else 200)
    )
    # Issue 29: the same data re-encoded apart from the sandbox (`_drift_payloads`).
    for (shape, layout), (orgs_n, per, rewrite) in DRIFT_SHAPES.items():
        if quick:
            orgs_n, per = max(1, orgs_n // 10), max(1, per // 10)
            shape = f"{orgs_n:,} organization{'s' if orgs_n > 1 else ''} x {per:,}"
        rows.append(
            (
                shape,
                layout,
                lambda o=orgs_n, p=per, r=rewrite: drift_body(o, p, r),
                orgs_n * per,
                1,
            )
        )
    return rows


def summary(results: Sequence[tuple[str, str, dict[str, Row]]]) -> str:
    """One line per shape: apibricks against pydantic and msgspec, and against compact.

    Beside apibricks' ratio to pydantic, the floor: ``orjson.loads`` + freeing its dicts,
    what any full parse costs before a single object is built.
    """
    compact: dict[str, float] = {}
    lines = [
        "| shape | layout | apibricks ms | pydantic ms | msgspec ms | orjson.loads + free ms "
        "| / pydantic | floor / pydantic | / msgspec | / same data compact |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for shape, layout, rows in results:
        ours, pydantic_json = rows["apibricks"].median, rows["pydantic_json"].median
        floor = rows["orjson_free"].median
        if layout == "compact":
            compact[shape] = ours
        base = compact.get(shape)
        lines.append(
            f"| {shape} | {layout} | {_ms(ours)} | {_ms(pydantic_json)} "
            f"| {_ms(rows['msgspec'].median)} | {_ms(floor)} "
            f"| {ours / pydantic_json:.2f}x | {floor / pydantic_json:.2f}x "
            f"| {ours / rows['msgspec'].median:.2f}x "
            f"| {'' if base is None else f'{ours / base:.2f}x'} |"
        )
    return "\n".join(lines)


def sweep(sizes: Sequence[int], rounds: int) -> dict[str, dict[int, float]]:
    """Median seconds per decode of a one-organization body of each size, per contender."""
    result: dict[str, dict[int, float]] = {c.key: {} for c in CONTENDERS}
    for size in sizes:
        body = one_org(size)
        print(f"[decode] sweep: {size:,} invoices ...", file=sys.stderr, flush=True)
        times = measure(CONTENDERS, body, rounds, gc_off=False)
        for key, values in times.items():
            result[key][size] = statistics.median(values)
    return result


def charts(
    directory: str,
    sizes: dict[str, dict[int, float]],
    results: Sequence[tuple[str, str, dict[str, Row]]],
) -> None:
    """PNG charts: decode time against size, and each shape's time relative to pydantic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {c.key: c.label.replace("*", "").replace("`", "") for c in CONTENDERS}
    figure, axes = plt.subplots(figsize=(8, 5))
    for key, points in sizes.items():
        xs = sorted(points)
        style = {"linewidth": 3} if key == "apibricks" else {"linewidth": 1.2}
        axes.plot(xs, [points[x] * 1e3 for x in xs], marker="o", label=labels[key], **style)
    axes.set(xscale="log", yscale="log", xlabel="invoices in the body (one organization)")
    axes.set(ylabel="ms per decode (median)", title="Decode time against body size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(f"{directory}/decode-size.png", dpi=110)
    plt.close(figure)

    shown = ("apibricks", "msgspec", "pydantic_json", "orjson")
    names = [f"{shape}\n{layout}" for shape, layout, _ in results]
    figure, axes = plt.subplots(figsize=(10, 5))
    width = 0.8 / len(shown)
    for offset, key in enumerate(shown):
        ratios = [rows[key].median / rows["pydantic_json"].median for _, _, rows in results]
        positions = [i + offset * width for i in range(len(results))]
        axes.bar(positions, ratios, width, label=labels[key])
    axes.axhline(0.7, color="black", linestyle="--", linewidth=1, label="target: 0.7x pydantic")
    axes.set_xticks([i + width * (len(shown) - 1) / 2 for i in range(len(results))])
    axes.set_xticklabels(names, fontsize=7, rotation=30, ha="right")
    axes.set(ylabel="time relative to pydantic validate_json", title="Decode time per shape")
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(f"{directory}/decode-shapes.png", dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small payloads, few rounds (CI)")
    parser.add_argument("--rounds", type=int, help="timed rounds per payload")
    parser.add_argument("--no-gc", action="store_true", help="disable GC inside timed calls")
    parser.add_argument("--profile", action="store_true", help="cProfile apibricks to stderr")
    parser.add_argument("--only", help="run only the shapes whose name or layout contains this")
    parser.add_argument("--json", help="also write the medians (seconds) to this JSON file")
    parser.add_argument("--charts", help="also write PNG charts (matplotlib) to this directory")
    args = parser.parse_args(argv)

    rounds = args.rounds or (2 if args.quick else 11)
    gc_note = "off inside timed calls" if args.no_gc else "on, as in a real program"
    print(f"Python {sys.version.split()[0]}, GC {gc_note}. Lower is better.")
    print()
    results: list[tuple[str, str, dict[str, Row]]] = []
    for shape, layout, make, count, calls in shapes(args.quick):
        if args.only and args.only not in f"{shape} {layout}":
            continue
        body = make()
        rows = run_payload(
            f"{shape}, {layout}",
            body,
            count,
            rounds,
            gc_off=args.no_gc,
            profile=args.profile,
            calls=calls,
        )
        results.append((shape, layout, rows))
        del body
    print("Summary (medians; issue 13 targets: ≤ 0.7x pydantic with ≤ 100 organizations,")
    print("≤ 1.5x msgspec with 1 organization, ≤ 1.2x pydantic for one organization per")
    print('invoice, any layout ≤ 1.3x the compact one). "floor" is `orjson.loads` and')
    print("freeing its dicts: no decoder that parses the whole body goes below it.")
    print()
    print(summary(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(
                [
                    {"shape": s, "layout": lay, "medians": {k: r.median for k, r in rows.items()}}
                    for s, lay, rows in results
                ],
                file,
                indent=1,
            )
    if args.charts:
        sizes = sweep((100, 1_000) if args.quick else (100, 1_000, 10_000), rounds)
        charts(args.charts, sizes, results)
        print()
        print(f"Charts written to `{args.charts}`: decode-size.png, decode-shapes.png.")
    if args.quick:
        print()
        print("_Smoke run (`--quick`): small payloads, few rounds; the ratios are indicative._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
