"""Quick decode comparison: 10,000 paid invoices of one organization, best of N runs.

    python benchmarks/bench_decode_quick.py [--invoices 10000] [--repeat 15]

Prints milliseconds for json.loads, orjson.loads, apibricks.decode_invoices (also on an
indented copy of the body, which skips its repeated-organization shortcut) and pydantic v2
``TypeAdapter(list[Invoice]).validate_json`` (models built with aliases from the same attrs
fields, so both decode exactly the same shape). A scratch tool, not the benchmark suite.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

import apibricks
from apibricks._converter import wire_name


def _timestamp(rng: random.Random, moment: datetime) -> str:
    """As ASP.NET writes it: 0-7 fractional digits, then Z, +00:00, another offset or none."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    digits = rng.randrange(8)
    if digits:
        text += "." + "".join(rng.choice("0123456789") for _ in range(digits))
    return text + rng.choice(("Z", "Z", "", "+00:00", "+02:00", "-05:30"))


def make_body(count: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)

    def moment() -> datetime:
        return start + timedelta(seconds=rng.randrange(5 * 365 * 86_400))

    organization: dict[str, Any] = {}
    for field in attrs.fields(apibricks.Organization):
        name = wire_name(apibricks.Organization, field.name)
        if field.type is int:
            organization[name] = rng.randrange(0, 2_000_000)
        elif field.type == datetime | None:
            organization[name] = _timestamp(rng, moment()) if rng.random() < 0.8 else None
        else:
            organization[name] = f"{name}-value" if rng.random() < 0.8 else None
    organization["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    invoices = [
        {
            "idOrganization": organization["id"],
            "id": f"in_{rng.getrandbits(96):024x}",
            "invoiceNumber": f"ABCD1234-{index:05d}",
            "created": _timestamp(rng, moment()),
            "paidDate": _timestamp(rng, moment()),
            "dueDate": _timestamp(rng, moment()) if rng.random() < 0.9 else None,
            "paid": True,
            "voided": False,
            "uncollectible": rng.random() < 0.01,
            "status": "paid",
            "amountUsdCents": rng.randrange(100, 2_500_000),
            "currency": rng.choice(("usd", "usd", "eur", "gbp", None)),
            "organization": organization,
        }
        for index in range(count)
    ]
    return json.dumps(invoices, separators=(",", ":")).encode()


def pydantic_adapter() -> Callable[[bytes], Any] | None:
    """``TypeAdapter(list[Invoice]).validate_json`` for pydantic twins of the attrs models."""
    try:
        import pydantic
    except ImportError:
        return None

    def twin(model: type, overrides: dict[str, Any]) -> type[pydantic.BaseModel]:
        definitions: dict[str, Any] = {}
        for field in attrs.fields(model):
            kind = overrides.get(field.name, field.type)
            default = ... if field.default is attrs.NOTHING else field.default
            definitions[field.name] = (
                kind,
                pydantic.Field(default, alias=wire_name(model, field.name)),
            )
        return pydantic.create_model(
            model.__name__, __config__=pydantic.ConfigDict(frozen=True), **definitions
        )

    organization = twin(apibricks.Organization, {})
    invoice = twin(apibricks.Invoice, {"organization": organization})
    return pydantic.TypeAdapter(list[invoice]).validate_json  # type: ignore[valid-type]


def best_ms(function: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        began = time.perf_counter()
        function()
        times.append(time.perf_counter() - began)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    body = make_body(args.invoices)
    print(f"{args.invoices} invoices, {len(body) / 1e6:.1f} MB")
    candidates: dict[str, Callable[[], Any]] = {"json.loads": lambda: json.loads(body)}
    try:
        import orjson

        candidates["orjson.loads"] = lambda: orjson.loads(body)
    except ImportError:
        pass
    candidates["apibricks.decode_invoices"] = lambda: apibricks.decode_invoices(body)
    # The general path, without the repeated-organization shortcut (pretty-printed bodies,
    # many organizations): parse everything, then structure with the per-response cache.
    indented = json.dumps(json.loads(body), indent=1).encode()
    candidates["apibricks, indented body"] = lambda: apibricks.decode_invoices(indented)
    validate_json = pydantic_adapter()
    if validate_json is not None:
        assert len(validate_json(body)) == args.invoices
        candidates["pydantic validate_json"] = lambda: validate_json(body)

    decoded = apibricks.decode_invoices(body)
    assert len(decoded) == args.invoices
    assert all(invoice.organization is decoded[0].organization for invoice in decoded)

    results = {name: best_ms(function, args.repeat) for name, function in candidates.items()}
    baseline = results["json.loads"]
    for name, ms in results.items():
        print(f"{name:28s} {ms:8.1f} ms  {ms / baseline:5.2f}x json.loads")
    if "pydantic validate_json" in results:
        ratio = results["apibricks.decode_invoices"] / results["pydantic validate_json"]
        print(f"apibricks / pydantic validate_json: {ratio:.2f}x")


if __name__ == "__main__":
    main()
