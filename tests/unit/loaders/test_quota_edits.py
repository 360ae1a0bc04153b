"""``quota_edits.load_edited`` gives exactly ``loading.load_texts`` of the edited copy, or nothing.

For every kind of change, good and bad: the fast path's model, tenant order and sources equal the
full load's, and a change the full load refuses makes the fast path give up (``None``) so that the
what-if raises the loader's own problems (file, line, field, fix), equal to those of ``dctenant
validate`` on a copy of quotas/ edited by this test's own code; the real files and the model loaded
before are left as they were.
"""

from __future__ import annotations

import copy
import pathlib
import shutil
from typing import Any

import pytest
import yaml

from dctenant.domain import whatif
from dctenant.errors import ValidationError
from dctenant.loaders import loading, quota_edits, whatif_files
from dctenant.ops import whatif_planning
from tests.conftest import EXAMPLE
from tests.unit.ops.test_whatif import apply_by_hand

BALE = yaml.safe_load((EXAMPLE / "tenants" / "bale.yaml").read_text(encoding="utf-8"))


def new_tenant(name: str, **spec: Any) -> dict[str, Any]:
    """A copy of bale under another name, without its namespaces and domains, with ``spec`` changes."""
    doc: dict[str, Any] = copy.deepcopy(BALE)
    doc["metadata"]["name"] = name
    doc["spec"]["licence"]["number"] = f"CRA-TEST-{name}"
    doc["spec"]["namespaces"] = []
    doc["spec"].pop("domains")
    doc["spec"].update(spec)
    return doc


POOL = {"name": "tbz-1", "site": "Tabriz", "context": "tbz-1", "capacity": {"cpu": "4000", "memory": "16Ti"}}

GOOD: list[list[dict[str, Any]]] = [
    [{"addTenant": new_tenant("zagros")}],
    [{"addTenant": new_tenant("aaa-first", tier="startup")}],  # sorts before every tenant
    [{"removeTenant": "bale"}],
    [{"setTier": {"name": "national", "weight": 3, "guaranteed": "40%"}}],
    [{"setDemand": {"tenant": "bale", "pool": "thr-ab", "demand": {"cpu": "7000", "memory": "30Ti"}}}],
    [{"setDemand": {"tenant": "gap", "pool": "isf-1", "demand": {"cpu": "10"}}}],  # a pool it had no demand in
    [{"setCapacity": {"pool": "thr-ab", "capacity": {"cpu": "20000"}, "reserve": {"cpu": "10%"}}}],
    [{"addPool": POOL}],
    [{"addPool": POOL}, {"setDemand": {"tenant": "bale", "pool": "tbz-1", "demand": {"cpu": "100"}}}],
    [{"removePool": "mhd-1"}],
    [{"setLicence": {"tenant": "bale", "status": "suspended"}}],
    [{"setLicence": {"tenant": "bale", "issued": "2020-01-01", "expires": "2021-01-01"}}],
]

BAD: list[tuple[list[dict[str, Any]], str]] = [
    # A resource the pool does not have (the tenant file's own check).
    ([{"setDemand": {"tenant": "bale", "pool": "isf-1", "demand": {"nvidia.com/gpu": 4}}}], "has no nvidia.com/gpu"),
    # A demand below the namespaces' quotas there.
    ([{"setDemand": {"tenant": "bale", "pool": "thr-ab", "demand": {"cpu": "10"}}}], "above the tenant's demand"),
    # A namespace name another tenant declares (a check between tenants).
    ([{"addTenant": new_tenant("bale-two", namespaces=[{"name": "bale-two-web", "pool": "thr-ab",
                                                        "quota": {"cpu": "1"}}])}], 'starts with tenant "bale"'),
    ([{"addTenant": new_tenant("zagros", domains=["media.bale.ir"])}], "overlaps"),
    ([{"addTenant": new_tenant("zagros", tier="gold")}], 'unknown tier "gold"'),
    ([{"setLicence": {"tenant": "bale", "issued": "2027-01-01", "expires": "2026-01-01"}}], "must be after issued"),
    ([{"setTier": {"name": "startup", "weight": "0.001"}}], "over 1000 times"),
    ([{"setCapacity": {"pool": "thr-ab", "capacity": {"nvidia.com/gpu": None}}}], "has no nvidia.com/gpu"),
    ([{"addPool": {**POOL, "capacity": {"cpu": "lots"}}}], "does not start with a number"),
]


def edited_texts(changes: list[dict[str, Any]]) -> dict[str, str]:
    """The edited copy's texts as what-if builds them (unchanged files keep their text)."""
    model = loading.load(EXAMPLE)
    texts = dict(model.sources)
    original = whatif_files.parse_quotas(texts, root=str(EXAMPLE))
    parsed = tuple(whatif.Change(op=op, argument=arg, location="test") for c in changes for op, arg in c.items())
    edited = whatif_files.apply(parsed, original)
    return {rel: texts[rel] if rel in original and original[rel] == doc else whatif_files.to_yaml(doc)
            for rel, doc in edited.items()}


@pytest.mark.parametrize("changes", GOOD, ids=lambda c: "+".join(next(iter(x)) for x in c))
def test_the_fast_path_equals_the_full_load(changes: list[dict[str, Any]]) -> None:
    texts = edited_texts(changes)
    fast = quota_edits.load_edited("q", texts)
    loading.forget()  # the reference starts cold: nothing it gives can come from what the fast path kept
    full = loading.load_texts("q", texts)
    assert fast is not None
    assert fast == full
    assert [t.id for t in fast.tenants] == [t.id for t in full.tenants]
    assert list(fast.sources.items()) == list(full.sources.items())


@pytest.mark.parametrize("changes", GOOD, ids=lambda c: "+".join(next(iter(x)) for x in c))
def test_the_fast_path_equals_a_copy_edited_by_hand(tmp_path: pathlib.Path, changes: list[dict[str, Any]]) -> None:
    edited = tmp_path / "quotas"
    shutil.copytree(EXAMPLE, edited)
    apply_by_hand(edited, changes)
    model = loading.load(EXAMPLE)
    parsed = tuple(whatif.Change(op=op, argument=arg, location="test") for c in changes for op, arg in c.items())
    assert whatif_planning.changed_model_from(str(EXAMPLE), parsed, model=model) == loading.load(edited)


@pytest.mark.parametrize(("changes", "message"), BAD, ids=lambda x: str(x)[:40])
def test_bad_changes_are_refused_in_the_loaders_words(tmp_path: pathlib.Path, changes: list[dict[str, Any]],
                                                      message: str) -> None:
    before = loading.load(EXAMPLE)
    texts = edited_texts(changes)
    assert quota_edits.load_edited("q", texts) is None
    parsed = tuple(whatif.Change(op=op, argument=arg, location="test") for c in changes for op, arg in c.items())
    with pytest.raises(ValidationError) as caught:
        whatif_planning.changed_model_from(str(EXAMPLE), parsed, model=before)
    problems = caught.value.problems
    assert any(message in p.message for p in problems), problems
    assert all(p.file.startswith(f"{EXAMPLE} (after the proposals)/") and p.field for p in problems)
    # The same problems as the loader finds in a copy edited by hand.
    copy_dir = tmp_path / "quotas"
    shutil.copytree(EXAMPLE, copy_dir)
    apply_by_hand(copy_dir, changes)
    with pytest.raises(ValidationError) as by_hand:
        loading.load(copy_dir)
    assert [(p.field, p.message, p.hint) for p in problems] == \
        [(p.field, p.message, p.hint) for p in by_hand.value.problems]
    # Nothing applied halfway: the files and the model loaded before are as they were.
    assert loading.load(EXAMPLE) == before
    loading.forget()
    assert loading.load(EXAMPLE) == before


def test_duplicate_stems_and_missing_files_go_to_the_full_load() -> None:
    texts = dict(loading.load(EXAMPLE).sources)
    assert quota_edits.load_edited("q", {**texts, "tenants/bale.yml": texts["tenants/bale.yaml"]}) is None
    assert quota_edits.load_edited("q", {k: v for k, v in texts.items() if k != "policy.yaml"}) is None
    with pytest.raises(ValidationError, match="duplicate tenant id"):
        loading.load_texts("q", {**texts, "tenants/bale.yml": texts["tenants/bale.yaml"]})
