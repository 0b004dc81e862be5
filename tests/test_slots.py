"""The draft classes of `apibricks._private_apis` fail loudly when they stop working.

On a Python or attrs release where a draft class can no longer stand in for the models
(``__class__`` assignment refused, attrs' slots changed, ``__init__`` doing more than
storing), these tests fail instead of the decoder silently getting slower or wrong.
"""

from __future__ import annotations

import gc
import json
import pickle
import sys
from pathlib import Path

import attrs
import pytest

from apibricks import DecodeError, Invoice, Organization, _private_apis, structure_invoices

SPEC = json.loads((Path(__file__).parent / "data" / "spec_example.json").read_text())
GIL = bool(getattr(sys, "_is_gil_enabled", lambda: True)())


@pytest.mark.skipif(not GIL, reason="free-threaded CPython builds through __init__ by design")
def test_the_models_are_built_through_drafts_on_this_python() -> None:
    for model in (Invoice, Organization):
        made = _private_apis.draft_class(model)
        assert made is not None, f"{model.__name__}: no draft class on this Python/attrs"
        draft, extra = made
        assert issubclass(draft, model) and draft.__dict__["__slots__"] == ()
        assert len(extra) <= 1


def test_instances_built_through_a_draft_behave_like_constructed_ones() -> None:
    (invoice,) = structure_invoices(SPEC)
    for value in (invoice, invoice.organization):
        assert type(value) in (Invoice, Organization)
        kwargs = {f.name: getattr(value, f.name) for f in attrs.fields(type(value))}
        made = type(value)(**kwargs)
        assert value == made and hash(value) == hash(made) and repr(value) == repr(made)
        assert pickle.loads(pickle.dumps(value)) == value
        assert attrs.evolve(value) == value
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            value.id = None  # type: ignore[misc]
        for slot in type(value).__slots__:
            if slot != "__weakref__":  # every slot set, as __init__ sets it
                assert hasattr(value, slot) == hasattr(made, slot), slot


def test_a_draft_never_escapes_even_when_a_build_fails_midway() -> None:
    bad = [dict(SPEC[0]), {**SPEC[0], "organization": {**SPEC[0]["organization"], "tier": 5}}]
    with pytest.raises(DecodeError):
        structure_invoices(bad)
    structure_invoices(SPEC * 3)
    drafts = tuple(Organization.__subclasses__() + Invoice.__subclasses__())
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, drafts)]


def test_a_model_whose_init_does_more_than_store_gets_no_draft() -> None:
    @attrs.frozen
    class Checked:
        value: int = attrs.field(validator=attrs.validators.gt(0))

    @attrs.frozen
    class Converted:
        value: int = attrs.field(converter=int)

    @attrs.frozen
    class Hooked:
        value: int

        def __attrs_post_init__(self) -> None:
            pass

    @attrs.frozen(slots=False)
    class Unslotted:
        value: int

    for model in (Checked, Converted, Hooked, Unslotted):
        assert _private_apis.draft_class(model) is None, model


def test_without_drafts_the_builders_give_the_same_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no draft is allowed (free-threaded CPython), attrs' ``__init__`` builds them."""
    from apibricks import _build

    monkeypatch.setattr(_build, "draft_class", lambda model: None)
    organization = _build._builder(Organization, {})
    invoice = _build._builder(Invoice, {Organization: organization})
    raw = SPEC[0]
    built = invoice(raw, _build.Scratch())
    assert built == structure_invoices([raw])[0]
    assert type(built) is Invoice and type(built.organization) is Organization
    with pytest.raises(_build.Invalid) as caught:
        invoice({**raw, "organization": {**raw["organization"], "tier": 5}}, _build.Scratch())
    assert (caught.value.path, caught.value.message) == (
        "organization.tier",
        "expected str or null, got int",
    )
