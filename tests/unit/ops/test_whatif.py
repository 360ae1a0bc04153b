"""``plan --what-if`` equals ``plan`` on a copy of quotas/ edited by hand, for random change sets.

The "by hand" edits are made here by this test's own code, from the meaning of each operation in
docs/planning.md, on a copy of the shipped example; ``dctenant plan -o json`` on that copy must
give exactly the ``after`` plan that ``dctenant plan --what-if`` prints. Also: the comparison
rows are checked against the two plans, the guarantee rule at its boundary, and bad change files.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import pathlib
import random
import shutil
from decimal import Decimal
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dctenant.cli import main as cli
from dctenant.domain import allocations, whatif
from dctenant.engine import comparing
from dctenant.errors import DctenantError, ValidationError
from dctenant.loaders import loading
from tests.conftest import EXAMPLE

AT = "2026-11-27"


def run(*args: str) -> tuple[int, str]:
    """Exit code and stdout; dctenant's errors as ``cli.main`` shows them (one line each, exit 1)."""
    result = CliRunner().invoke(cli.cli, list(args))
    exc = result.exception
    if isinstance(exc, ValidationError):
        return 1, "\n".join(str(p) for p in exc.problems)
    if isinstance(exc, DctenantError):
        return 1, str(exc)
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return result.exit_code, result.stdout if result.exit_code != 1 else result.output


def tenant_files(root: pathlib.Path) -> dict[str, pathlib.Path]:
    return {yaml.safe_load(p.read_text())["metadata"]["name"]: p for p in sorted((root / "tenants").glob("*.yaml"))}


def random_changes(rnd: random.Random, root: pathlib.Path) -> list[dict[str, Any]]:
    """A few random, valid operations on the example."""
    dc = yaml.safe_load((root / "datacentre.yaml").read_text())
    tenants = {t: yaml.safe_load(p.read_text()) for t, p in tenant_files(root).items()}
    pools = [p["name"] for p in dc["spec"]["pools"]]
    out: list[dict[str, Any]] = []
    removed: set[str] = set()
    for _ in range(rnd.randint(1, 4)):
        op = rnd.choice(["removeTenant", "setTier", "setDemand", "setCapacity", "removePool", "setLicence",
                         "addTenant", "addPool"])
        live = sorted(set(tenants) - removed)
        if op == "removeTenant" and len(live) > 2:
            t = rnd.choice(live)
            removed.add(t)
            out.append({"removeTenant": t})
        elif op == "setTier":
            out.append({"setTier": {"name": rnd.choice(["national", "standard", "startup"]),
                                    "weight": rnd.randint(1, 9), "guaranteed": f"{rnd.choice([0, 10, 25, 50, 60])}%"}})
        elif op == "setDemand":
            t = rnd.choice(live)
            pool = rnd.choice(sorted(tenants[t]["spec"]["demand"]))
            demand = {"cpu": str(rnd.randint(1, 9000)), "memory": f"{rnd.randint(1, 40)}Ti"}
            out.append({"setDemand": {"tenant": t, "pool": pool, "demand": demand}})
        elif op == "setCapacity":
            out.append({"setCapacity": {"pool": rnd.choice(pools), "capacity": {"cpu": str(rnd.randint(500, 30000))}}})
        elif op == "removePool" and len(pools) > 1 and not any(isinstance(c.get("setCapacity"), dict) for c in out):
            p = rnd.choice(pools)
            pools.remove(p)
            out.append({"removePool": p})
            # Later operations must not name the lost pool.
            for t in tenants.values():
                t["spec"]["demand"].pop(p, None)
            tenants = {k: v for k, v in tenants.items() if v["spec"]["demand"] or k in removed}
        elif op == "addPool" and f"new-{len(out)}" not in pools:
            name = f"new-{len(out)}"
            out.append({"addPool": {"name": name, "site": "New", "context": name,
                                    "capacity": {"cpu": str(rnd.randint(100, 9000)), "memory": "8Ti"}}})
            pools.append(name)
        elif op == "setLicence":
            out.append({"setLicence": {"tenant": rnd.choice(live),
                                       "status": rnd.choice(["active", "suspended"])}})
        elif op == "addTenant":
            base = copy.deepcopy(tenants[rnd.choice(live)])
            name = f"new{len(out)}"
            base["metadata"]["name"] = name
            base["spec"]["namespaces"] = []
            base["spec"]["licence"]["number"] = f"CRA-MSG-NEW-{len(out)}"
            base["spec"]["demand"] = {p: d for p, d in base["spec"]["demand"].items() if p in pools}
            if base["spec"]["demand"]:
                out.append({"addTenant": base})
    return out


def apply_by_hand(root: pathlib.Path, changes: list[dict[str, Any]]) -> None:
    """The test's own reading of each operation (docs/planning.md), made on the files of ``root``."""
    def load(p: pathlib.Path) -> Any:
        return yaml.safe_load(p.read_text(encoding="utf-8"))

    def save(p: pathlib.Path, doc: Any) -> None:
        p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

    def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
        for k, v in patch.items():
            if v is None:
                target.pop(k, None)
            elif isinstance(v, dict) and isinstance(target.get(k), dict):
                merge(target[k], v)
            else:
                target[k] = v

    for change in changes:
        ((op, arg),) = change.items()
        files = tenant_files(root)
        if op == "removeTenant":
            files[arg].unlink()
        elif op == "addTenant":
            save(root / "tenants" / f"{arg['metadata']['name']}.yaml", arg)
        elif op == "setTier":
            doc = load(root / "policy.yaml")
            doc["spec"]["tiers"][arg["name"]].update({k: v for k, v in arg.items() if k != "name"})
            save(root / "policy.yaml", doc)
        elif op == "setDemand":
            doc = load(files[arg["tenant"]])
            if arg["demand"] is None:
                doc["spec"]["demand"].pop(arg["pool"], None)
            else:
                merge(doc["spec"]["demand"].setdefault(arg["pool"], {}), arg["demand"])
            save(files[arg["tenant"]], doc)
        elif op == "setLicence":
            doc = load(files[arg["tenant"]])
            doc["spec"]["licence"].update({k: v for k, v in arg.items() if k != "tenant"})
            save(files[arg["tenant"]], doc)
        elif op == "setCapacity":
            doc = load(root / "datacentre.yaml")
            (pool,) = [p for p in doc["spec"]["pools"] if p["name"] == arg["pool"]]
            for field in ("capacity", "reserve"):
                if field in arg:
                    merge(pool.setdefault(field, {}), arg[field])
            save(root / "datacentre.yaml", doc)
        elif op == "addPool":
            doc = load(root / "datacentre.yaml")
            doc["spec"]["pools"].append(arg)
            save(root / "datacentre.yaml", doc)
        elif op == "removePool":
            doc = load(root / "datacentre.yaml")
            doc["spec"]["pools"] = [p for p in doc["spec"]["pools"] if p["name"] != arg]
            save(root / "datacentre.yaml", doc)
            for path in files.values():
                t = load(path)
                t["spec"]["demand"].pop(arg, None)
                t["spec"]["namespaces"] = [n for n in t["spec"].get("namespaces", []) if n["pool"] != arg]
                save(path, t)


def write_changes(path: pathlib.Path, changes: list[dict[str, Any]]) -> None:
    path.write_text(yaml.safe_dump({"apiVersion": "dctenant.io/v1alpha1", "kind": "WhatIf", "changes": changes},
                                   allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize("seed", range(20))
def test_what_if_equals_plan_on_the_edited_copy(tmp_path: pathlib.Path, seed: int) -> None:
    rnd = random.Random(seed)
    original = tmp_path / "quotas"
    shutil.copytree(EXAMPLE, original)
    changes = random_changes(rnd, original)
    write_changes(tmp_path / "changes.yaml", changes)
    edited = tmp_path / "edited"
    shutil.copytree(EXAMPLE, edited)
    apply_by_hand(edited, changes)
    # The reference plan loads cold, and the what-if starts cold too: its edited copy then reuses only
    # what it parsed and checked itself (loading's caches), so a stale cache entry cannot hide in both.
    loading.forget()
    code, text = run("plan", str(edited), "--at", AT, "-o", "json")
    loading.forget()
    what_if_code, what_if_text = run("plan", str(original), "--at", AT, "-o", "json",
                                     "--what-if", str(tmp_path / "changes.yaml"))
    if code != 0:
        # An edit the loader refuses is refused alike, with the same problem (files named differently).
        assert what_if_code == code == 1
        problems = [line.split(": ", 2)[-1] for line in text.splitlines()]
        assert problems == [line.split(": ", 2)[-1] for line in what_if_text.splitlines()]
        assert all("(after " in line for line in what_if_text.splitlines())
        return
    expected_after = json.loads(text)
    assert what_if_code == 0, what_if_text
    text = what_if_text
    result = json.loads(text)
    assert result["after"] == expected_after
    code, text = run("plan", str(original), "--at", AT, "-o", "json")
    assert result["before"] == json.loads(text)
    # Every listed row is a real difference between the two plans, and every difference is listed.
    listed = {(r["tenant"], r["pool"], r["resource"]): (r["before"], r["after"]) for r in result["envelopes"]}
    found = {}
    for side, plan in (("before", result["before"]), ("after", result["after"])):
        for tid, t in plan["tenants"].items():
            for pool, share in t["pools"].items():
                for key, value in share["envelope"].items():
                    found.setdefault((tid, pool, key), {"before": None, "after": None})[side] = value
    assert listed == {k: (v["before"], v["after"]) for k, v in found.items() if v["before"] != v["after"]}
    assert (original / "tenants" / "bale.yaml").read_text() == (EXAMPLE / "tenants" / "bale.yaml").read_text()


def share(demand: dict[str, str], envelope: dict[str, str]) -> allocations.Share:
    return allocations.Share(pool="p", demand={k: Decimal(v) for k, v in demand.items()},
                             envelope={k: Decimal(v) for k, v in envelope.items()}, fraction=Decimal(1),
                             weighted_share=Decimal(0), dominant="cpu", limited_by="demand", round=0)


def allocation(envelope: str, *, scale: str, guaranteed: str = "0.5", state: str = "active"
               ) -> allocations.Allocation:
    import datetime as dt

    from dctenant.domain import tenants

    pool = allocations.PoolAllocation(name="p", resources=(), guarantee_scale=Decimal(scale), rounds=1)
    tenant = allocations.TenantAllocation(tenant="a", licence=tenants.LicenceState(state), weight=Decimal(1),
                                          guaranteed=Decimal(guaranteed),
                                          shares={"p": share({"cpu": "100"}, {"cpu": envelope})})
    return allocations.Allocation(at=dt.date(2026, 11, 27), pools={"p": pool}, tenants={"a": tenant},
                                  namespaces=(), warnings=())


@pytest.mark.parametrize(("envelope", "scale", "below"), [
    ("50", "0.9", False),   # exactly the guarantee (0.5 x 100): not below
    ("49.999", "0.9", True),  # a thousandth under it, guarantees squeezed: below
    ("10", "1", False),     # guarantees fit (scale 1): the engine met them; a smaller envelope is the demand cap
])
def test_below_guarantee_boundary(envelope: str, scale: str, below: bool) -> None:
    misses = comparing.below_guarantee(allocation(envelope, scale=scale), previous=set())
    assert bool(misses) is below
    if below:
        assert misses[0].resources == ("cpu",) and misses[0].new


def test_suspended_tenants_have_no_guarantee() -> None:
    assert comparing.below_guarantee(allocation("0", scale="0.5", state="suspended"), previous=None) == ()


def test_comparison_rows_and_losers() -> None:
    before, after = allocation("80", scale="1"), allocation("60", scale="1")
    c = comparing.compare(before, after)
    (row,) = c.envelopes
    assert (row.before, row.after, row.delta, row.ratio) == (Decimal(80), Decimal(60), Decimal(-20), Decimal("-0.25"))
    assert c.losers == ("a",)
    assert comparing.compare(before, before) == whatif.Comparison(envelopes=(), below_guarantee=(), states=(),
                                                                   losers=())


@pytest.mark.parametrize(("changes", "message"), [
    ([{"removeTenant": "nobody"}], "no tenant 'nobody'"),
    ([{"setTier": {"name": "gold", "weight": 2}}], "no tier 'gold'"),
    ([{"removePool": "thr-xx"}], "no pool 'thr-xx'"),
    ([{"setDemand": {"tenant": "bale", "pool": "thr-ab"}}], 'missing field "demand"'),
    ([{"explode": 1}], 'unknown field "explode"'),
    ([{"setTier": {"name": "startup", "weight": "heavy"}}], "weight"),
])
def test_bad_changes_name_the_file_and_field(tmp_path: pathlib.Path, changes: list[Any], message: str) -> None:
    write_changes(tmp_path / "c.yaml", changes)
    code, text = run("plan", str(EXAMPLE), "--at", AT, "--what-if", str(tmp_path / "c.yaml"))
    assert code == 1
    assert message in text
    assert "c.yaml" in text


def test_exit_code_when_a_tenant_falls_below_its_guarantee(tmp_path: pathlib.Path) -> None:
    # Halving thr-ab's CPU leaves less than the national and standard tiers' guaranteed CPU there.
    write_changes(tmp_path / "c.yaml", [{"setCapacity": {"pool": "thr-ab", "capacity": {"cpu": "3000"}}}])
    code, text = run("plan", str(EXAMPLE), "--at", AT, "--what-if", str(tmp_path / "c.yaml"), "--exit-code",
                     "-o", "json")
    assert code == 3
    result = json.loads(text)
    assert {m["tenant"] for m in result["belowGuarantee"]} >= {"bale", "eitaa"}
    assert result["losers"][0] in {m["tenant"] for m in result["belowGuarantee"]} | set(result["losers"])
    code, _ = run("plan", str(EXAMPLE), "--at", AT, "--exit-code", "--what-if", str(tmp_path / "c.yaml"))
    assert code == 3


def test_render_what_if_shows_only_changed_manifests(tmp_path: pathlib.Path) -> None:
    # Removing navak (navak-ml in thr-pd, navak-messaging in isf-1; its licence is suspended, so it
    # held no envelope) removes its two namespace files and changes the enforcer's copy of the
    # quotas in every pool; no other tenant's namespace changes.
    write_changes(tmp_path / "c.yaml", [{"removeTenant": "navak"}])
    code, text = run("render", str(EXAMPLE), "--at", AT, "--what-if", str(tmp_path / "c.yaml"), "-o", "json")
    assert code == 0, text
    files = json.loads(text)["files"]
    assert "thr-pd/navak-ml.yaml" in files
    assert all(line.startswith(("-", "@@", "--- ")) for line in files["thr-pd/navak-ml.yaml"].splitlines()[2:])
    namespaces = {rel for rel in files if not rel.split("/")[1].startswith("_")}
    assert namespaces == {"thr-pd/navak-ml.yaml", "isf-1/navak-messaging.yaml"}
    assert {rel for rel in files if rel.endswith("_enforcer.yaml")} == {
        f"{p}/_enforcer.yaml" for p in ("thr-ab", "thr-pd", "isf-1", "mhd-1")}


def test_a_change_of_context_reloads_the_tenants(tmp_path: pathlib.Path) -> None:
    """Tenants are reused only under the same data centre shape and tiers: taking GPUs out of thr-ab
    must make every tenant that asks for GPUs there fail again, not come back from the cache."""
    from dctenant.ops import planning, whatif_planning

    model = planning.plan(str(EXAMPLE), at=dt.date.fromisoformat(AT)).model  # warms the caches
    changes = (whatif.Change(op=whatif.SET_CAPACITY, argument={"pool": "thr-ab", "capacity": {"nvidia.com/gpu": None}},
                             location="test"),)
    with pytest.raises(ValidationError) as caught:
        whatif_planning.changed_model_from(str(EXAMPLE), changes, model=model)
    gpu = [p for p in caught.value.problems if 'pool "thr-ab" has no nvidia.com/gpu' in p.message]
    assert gpu and all(p.file.startswith(f"{EXAMPLE} (after the proposals)/tenants/") for p in gpu)


def test_warm_and_cold_loads_are_equal_and_edits_leave_the_originals(tmp_path: pathlib.Path) -> None:
    from dctenant.ops import whatif_planning

    loading.forget()
    cold = loading.load(EXAMPLE)
    changes = (whatif.Change(op=whatif.SET_DEMAND, argument={"tenant": "bale", "pool": "thr-ab",
                                                             "demand": {"cpu": "7000"}}, location="test"),)
    after = whatif_planning.changed_model_from(str(EXAMPLE), changes, model=cold)
    assert next(t for t in after.tenants if t.id == "bale").demand["thr-ab"]["cpu"] == 7000
    warm = loading.load(EXAMPLE)  # the edit went to a copy: the cached parse of bale.yaml is the file's
    assert warm == cold and warm.tenants[0] is cold.tenants[0]
    loading.forget()
    assert loading.load(EXAMPLE) == cold


def test_approved_increases_lie_over_both_sides_as_plan_lays_them(tmp_path: pathlib.Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An approved increase not yet exported (bale's CPU in pool lab 12 → 15) is in ``plan``'s model, so it
    is in the what-if's "before" and "after" alike: the edit (gap's demand) is the only change shown."""
    from dctenant.clients import selfservice_db
    from tests.selfservice_quotas import write_quotas

    quotas = write_quotas(tmp_path / "quotas")
    store = selfservice_db.Store(str(tmp_path / "state" / "selfservice.db"))
    at = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
    with store.transaction(tenant="bale") as tx:
        rid = tx.add_request(tenant="bale", pool="lab", demand={"cpu": "3"}, reason="r", at=at, by="t", mode="add")
        tx.decide_request(rid, state="approved", by="s", decision="", at=at, before={"cpu": "12"},
                          result={"cpu": "15"})
    store.close()
    monkeypatch.setenv("DCTENANT_LEDGER", str(tmp_path / "state" / "ledger.db"))
    changes = [{"setDemand": {"tenant": "gap", "pool": "lab", "demand": {"cpu": "14"}}}]
    write_changes(tmp_path / "c.yaml", changes)
    edited = tmp_path / "edited"
    shutil.copytree(quotas, edited)
    apply_by_hand(edited, changes)
    code, text = run("plan", str(quotas), "--at", AT, "-o", "json", "--what-if", str(tmp_path / "c.yaml"))
    assert code == 0, text
    result = json.loads(text)
    _, expected = run("plan", str(edited), "--at", AT, "-o", "json")
    assert result["after"] == json.loads(expected)
    assert result["after"]["tenants"]["bale"]["pools"]["lab"]["demand"]["cpu"] == "15"
    assert [(r["tenant"], r["resource"], r["before"], r["after"]) for r in result["envelopes"]] == [
        ("gap", "cpu", "12", "14")]
