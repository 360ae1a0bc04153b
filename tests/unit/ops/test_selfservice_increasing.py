"""Approved increases into quotas/: the arithmetic, the round-trip edit that keeps a file's form, the export."""

from __future__ import annotations

import datetime as dt
import pathlib
import shutil
import subprocess
from decimal import Decimal

import pytest

from dctenant.clients import selfservice_db
from dctenant.domain import resources
from dctenant.loaders import loading
from dctenant.ops import increasing
from dctenant.ops.selfservice_decisions import RefusedError
from tests.selfservice_quotas import write_quotas

REPO = pathlib.Path(__file__).resolve().parents[3]
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
TI = Decimal(2**40)


def test_next_demand_adds_or_sets_and_refuses_anything_but_an_increase() -> None:
    now = {"cpu": Decimal(12), "memory": Decimal(2**30)}
    assert increasing.next_demand(now, mode="add", amounts={"cpu": Decimal(8)}) == {"cpu": Decimal(20)}
    assert increasing.next_demand(now, mode="to", amounts={"cpu": Decimal(20)}) == {"cpu": Decimal(20)}
    assert increasing.next_demand(now, mode="add", amounts={"nvidia.com/gpu": Decimal(1)}) == {
        "nvidia.com/gpu": Decimal(1)}
    assert increasing.next_demand(now, mode="to", amounts={"cpu": Decimal("12.001")}) == {"cpu": Decimal("12.001")}
    for mode, amounts in (("to", {"cpu": Decimal(12)}), ("add", {"cpu": Decimal(0)}), ("to", {"cpu": Decimal(1)})):
        with pytest.raises(RefusedError):
            increasing.next_demand(now, mode=mode, amounts=amounts)
    with pytest.raises(RefusedError):
        increasing.next_demand(now, mode="set", amounts={"cpu": Decimal(20)})


def test_an_untouched_file_round_trips_byte_for_byte() -> None:
    for file in sorted((REPO / "quotas" / "tenants").glob("*.yaml")):
        text = file.read_text(encoding="utf-8")
        assert increasing.edit(text, changes={}) == text, file.name


def test_the_edit_keeps_comments_order_and_quoting() -> None:
    text = (REPO / "quotas" / "tenants" / "bale.yaml").read_text(encoding="utf-8")
    new = increasing.edit(text, changes={"thr-ab": {"cpu": Decimal(7000), "nvidia.com/gpu": Decimal(9),
                                                    "memory": 21 * TI, "bandwidth/egress": Decimal(700 * 10**9),
                                                    "storage/ssd-standard": Decimal(401) * TI + TI / 2}})
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert changed == [
        ('      cpu: "6000"', '      cpu: "7000"'),
        ("      memory: 20Ti", "      memory: 21Ti"),
        ("      nvidia.com/gpu: 8", "      nvidia.com/gpu: 9"),
        ("        ssd-standard: 400Ti", "        ssd-standard: " + resources.format_amount(
            "storage/ssd-standard", Decimal(401) * TI + TI / 2)),
        ("        egress: 650Gbps", "        egress: 700Gbps"),
    ]


def test_new_keys_and_pools_are_added_in_the_files_style(tmp_path: pathlib.Path) -> None:
    root = write_quotas(tmp_path / "quotas")
    text = (root / "tenants" / "bale.yaml").read_text()
    new = increasing.edit(text, changes={"lab": {"nvidia.com/gpu": Decimal(2), "bandwidth/egress": Decimal(10**9)}})
    assert "      nvidia.com/gpu: 2\n" in new
    assert "      bandwidth:\n        egress: 1Gbps\n" in new
    assert new.startswith("# bale, a tenant under test.\n")


def test_spell_keeps_the_unit_when_it_can() -> None:
    assert increasing.spell("cpu", Decimal("1.5"), like="500m") == "1500m"
    assert increasing.spell("cpu", Decimal("1.5"), like="2") == resources.format_amount("cpu", Decimal("1.5"))
    assert increasing.spell("memory", Decimal(3 * 2**30), like="2Gi") == "3Gi"
    assert increasing.spell("nvidia.com/gpu", Decimal(9), like=8) == 9


def store_with_approval(root: pathlib.Path, tmp: pathlib.Path, result: dict[str, str]) -> selfservice_db.Store:
    store = selfservice_db.Store(str(tmp / "ss.db"))
    with store.transaction(tenant="bale") as tx:
        rid = tx.add_request(tenant="bale", pool="lab", demand=result, reason="r", at=NOW, by="t", mode="to")
        tx.decide_request(rid, state="approved", by="s", decision="", at=NOW, before={}, result=result)
    del root
    return store


def test_export_writes_a_patch_that_applies_and_marks_the_requests(tmp_path: pathlib.Path) -> None:
    root = write_quotas(tmp_path / "quotas")
    original = (root / "tenants" / "bale.yaml").read_text()
    store = store_with_approval(root, tmp_path, {"cpu": "20"})
    done = increasing.export(str(root), store=store, at=NOW)
    assert done.requests == (1,) and not done.written
    assert (root / "tenants" / "bale.yaml").read_text() == original  # a patch only
    assert '-      cpu: "12"\n+      cpu: "20"\n' in done.patch
    # Apply it as staff would (git apply, as in docs/selfservice.md), and load the result.
    subprocess.run([shutil.which("git") or "git", "apply", "-p1", "--directory", ".", "--unsafe-paths"],
                   input=done.patch, text=True, check=True, capture_output=True, cwd=root)
    assert loading.load(root).tenant("bale").demand["lab"]["cpu"] == 20
    with store.transaction() as tx:
        assert tx.approved() == [] and len(tx.approved(exported=True)) == 1
    with pytest.raises(RefusedError):
        increasing.export(str(root), store=store, request_ids=[1], at=NOW)  # exported already
    store.close()


def test_export_write_edits_the_file(tmp_path: pathlib.Path) -> None:
    root = write_quotas(tmp_path / "quotas")
    store = store_with_approval(root, tmp_path, {"memory": str(16 * 2**30)})
    done = increasing.export(str(root), store=store, write=True, at=NOW)
    assert done.written and done.files == {"tenants/bale.yaml": (done.files["tenants/bale.yaml"][0],
                                                                  (root / "tenants" / "bale.yaml").read_text())}
    assert "      memory: 16Gi\n" in (root / "tenants" / "bale.yaml").read_text()
    assert loading.load(root).tenant("bale").demand["lab"]["memory"] == 16 * 2**30
    store.close()


def test_check_refuses_what_the_loader_refuses_and_leaves_the_file(tmp_path: pathlib.Path) -> None:
    root = write_quotas(tmp_path / "quotas")
    before = (root / "tenants" / "bale.yaml").read_text()
    with pytest.raises(RefusedError) as refused:  # below the staff namespace's 2 CPUs
        increasing.check(str(root), tenant="bale", changes={"lab": {"cpu": Decimal(1)}})
    assert refused.value.status == 422 and refused.value.problems
    assert not any("dctenant-increase-" in p.file for p in refused.value.problems)  # named in quotas/, not the copy
    increasing.check(str(root), tenant="bale", changes={"lab": {"cpu": Decimal(2)}})  # exactly the staff quota
    assert (root / "tenants" / "bale.yaml").read_text() == before
