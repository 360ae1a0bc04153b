"""``dctenant plan -o json`` against an independent exact leximin, on 500 seeded random data centres.

Each instance is written as a quotas/ directory (1–3 pools, 2–8 tenants), planned through the CLI
(click's CliRunner, in process, so that 500 plans fit in CI's time) and checked against
``exact_leximin``: every envelope within one unit of the exact value ``f × demand``, never above the
demand, a multiple of the unit, whole-unit demands served in full given exactly, every pool's total
within its allocatable, and that allocatable (``capacity × overcommit − reserve``) computed here
independently. The instances cover fractional allocatables in every resource, overcommit, PiB and EiB
of storage (with a one-byte granularity too), Tbit/s of egress, tier weights across the whole
accepted range, guarantees that do not fit, zero demands, tenants larger than the pool and
licences in every state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import pathlib
import random
from decimal import Decimal
from fractions import Fraction

import pytest
from click.testing import CliRunner

from dctenant.cli.main import cli

try:  # The oracle sits next to this file; import it whether or not tests/ is a package.
    from . import exact_leximin  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    import exact_leximin  # type: ignore[no-redef,unused-ignore]

INSTANCES = 500
AT = dt.date(2026, 11, 27)
HEADER = {"apiVersion": "dctenant.io/v1alpha1"}
GRACE_DAYS = 14
# Weight sets spanning the accepted range (0.001 to 1000, heaviest at most 1000 × the lightest).
WEIGHTS = [("1", "2", "4"), ("0.001", "0.5", "1"), ("1", "10", "1000"), ("0.37", "1.5", "2.25"),
           ("5", "50", "500"), ("0.001", "0.001", "0.002"), ("999", "1000", "1")]
GUARANTEES = [("0%", "0%", "0%"), ("50%", "25%", "0%"), ("90%", "60%", "30%"), ("12.5%", "33%", "7%"),
              ("100%", "0%", "50%")]


@dataclasses.dataclass
class Resource:
    key: str  # the JSON key
    kind: str  # cpu, memory, gpu, storage, bandwidth
    path: tuple[str, ...]  # where it sits in a resource map


RESOURCES = [
    Resource("cpu", "cpu", ("cpu",)),
    Resource("memory", "memory", ("memory",)),
    Resource("nvidia.com/gpu", "gpu", ("nvidia.com/gpu",)),
    Resource("storage/hdd-archive", "storage", ("storage", "hdd-archive")),
    Resource("storage/ssd", "storage", ("storage", "ssd")),
    Resource("bandwidth/egress", "bandwidth", ("bandwidth", "egress")),
    Resource("bandwidth/ingress", "bandwidth", ("bandwidth", "ingress")),
]


@dataclasses.dataclass
class Instance:
    units: dict[str, Decimal]  # granularity per kind
    allocatable: dict[str, dict[str, Fraction]]  # pool → key → exact allocatable
    tiers: dict[str, tuple[Fraction, Fraction]]
    tenants: dict[str, tuple[str, bool, dict[str, dict[str, Fraction]]]]  # id → tier, served, demand
    files: dict[str, object]


def _put(tree: dict[str, object], path: tuple[str, ...], value: str) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})  # type: ignore[assignment]
    tree[path[-1]] = value


def _amount(rnd: random.Random, kind: str, scale: str) -> int:
    """A capacity in base units (millicores for cpu) of a realistic magnitude, rarely a round number."""
    if kind == "cpu":
        return rnd.randint(1, 200_000) * 1000 + rnd.choice([0, rnd.randint(0, 999)])
    if kind == "gpu":
        return rnd.randint(1, 64)
    if kind == "memory":
        return rnd.randint(2**30, 2**46)
    if kind == "storage":
        return rnd.randint(2**50, 2**60) if scale == "huge" else rnd.randint(2**40, 2**52)
    return rnd.randint(10**9, 5 * 10**12) if scale == "huge" else rnd.randint(10**6, 10**10)


def _text(kind: str, amount: int | Fraction) -> str:
    if kind == "cpu":
        return str(Decimal(int(amount)) / 1000)
    return str(int(amount))


def generate(seed: int) -> Instance:
    rnd = random.Random(seed)
    scale = rnd.choice(["huge", "plain"])
    units = {"cpu": Decimal(rnd.choice(["0.001", "1", "0.1"])), "gpu": Decimal(1),
             "memory": Decimal(rnd.choice([2**20, 1024, 2**30])),
             "storage": Decimal(rnd.choice([2**20, 1, 2**30])),
             "bandwidth": Decimal(rnd.choice([10**6, 1, 10**9]))}
    granularity = {"cpu": str(units["cpu"]), "memory": str(units["memory"]), "storage": str(units["storage"]),
                   "bandwidth": str(units["bandwidth"])}
    weights, guarantees = rnd.choice(WEIGHTS), rnd.choice(GUARANTEES)
    tier_names = ("gold", "silver", "bronze")
    tiers = {n: (Fraction(Decimal(w)), Fraction(Decimal(g.rstrip("%"))) / 100)
             for n, w, g in zip(tier_names, weights, guarantees, strict=True)}
    policy = {**HEADER, "kind": "Policy", "metadata": {"name": "p"}, "spec": {
        "tiers": {n: {"weight": w, "guaranteed": g} for n, w, g in zip(tier_names, weights, guarantees, strict=True)},
        "licences": {"warningDays": 30, "graceDays": GRACE_DAYS},
        "allocation": {"granularity": granularity}}}
    pools_yaml, allocatable = [], {}
    for p in range(rnd.randint(1, 3)):
        chosen = [r for r in RESOURCES if rnd.random() < 0.6] or [rnd.choice(RESOURCES)]
        capacity: dict[str, object] = {}
        reserve: dict[str, object] = {}
        overcommit: dict[str, object] = {}
        exact = {}
        for r in chosen:
            amount = _amount(rnd, r.kind, scale)
            raw = Fraction(amount, 1000) if r.kind == "cpu" else Fraction(amount)
            _put(capacity, r.path, _text(r.kind, amount))
            ratio = Fraction(1)
            if r.kind in ("cpu", "bandwidth") and rnd.random() < 0.6:
                text = rnd.choice(["1.2", "1.37", "2", "2.5", "1.05"])
                _put(overcommit, r.path, text)
                ratio = Fraction(Decimal(text))
            held = Fraction(0)
            if rnd.random() < 0.5:
                percent = rnd.choice(["5%", "7.5%", "10%", "12.5%", "0.3%"])
                _put(reserve, r.path, percent)
                # docs/plan.md: a percent reserve is rounded up to what the resource can express
                # (a millicore, a byte, a GPU, a bit/s).
                finest = Fraction(1, 1000) if r.kind == "cpu" else Fraction(1)
                held = math.ceil(raw * Fraction(Decimal(percent.rstrip("%"))) / 100 / finest) * finest
            exact[r.key] = raw * ratio - held
        name = f"p{p}"
        pool = {"name": name, "site": "s", "context": name, "capacity": capacity}
        if reserve:
            pool["reserve"] = reserve
        if overcommit:
            pool["overcommit"] = overcommit
        pools_yaml.append(pool)
        allocatable[name] = exact
    datacentre = {**HEADER, "kind": "DataCentre", "metadata": {"name": "dc"}, "spec": {
        "storageClasses": [{"name": "hdd-archive"}, {"name": "ssd"}], "pools": pools_yaml}}
    files: dict[str, object] = {"policy.yaml": policy, "datacentre.yaml": datacentre}
    tenants = {}
    for i in range(rnd.randint(2, 8)):
        tid = f"t{i}"
        status, expires = rnd.choice([("active", 400), ("active", 10), ("active", -5), ("active", -20),
                                      ("suspended", 400), ("revoked", 400), ("active", 400), ("active", 400)])
        served = status == "active" and expires >= -GRACE_DAYS
        demand_yaml: dict[str, object] = {}
        demand: dict[str, dict[str, Fraction]] = {}
        for name, exact in allocatable.items():
            if rnd.random() < 0.3 and demand:
                continue
            tree: dict[str, object] = {}
            asked = {}
            for key, value in exact.items():
                r = next(r for r in RESOURCES if r.key == key)
                if rnd.random() < 0.2:
                    continue  # no demand for this resource (zero)
                part = Fraction(rnd.choice([rnd.randint(1, 1000), rnd.randint(1, 1500), rnd.randint(0, 30)]), 1000)
                if r.kind == "gpu":
                    amount = Fraction(int(value * part) + rnd.randint(0, 2))
                elif r.kind == "cpu":
                    amount = Fraction(int(value * part * 10_000), 10_000)  # down to a tenth of a millicore
                else:
                    amount = Fraction(int(value * part))
                text = str(Decimal(amount.numerator) / amount.denominator)
                _put(tree, r.path, text)
                asked[key] = amount
            demand_yaml[name] = tree
            demand[name] = asked
        tier = rnd.choice(tier_names)
        files[f"tenants/{tid}.yaml"] = {**HEADER, "kind": "Tenant", "metadata": {"name": tid}, "spec": {
            "displayName": {"en": tid, "fa": tid}, "tier": tier,
            "licence": {"number": f"L-{i}", "issued": "2020-01-01",
                        "expires": (AT + dt.timedelta(days=expires)).isoformat(), "status": status},
            "owners": {"users": [f"{tid}@example.org"]}, "demand": demand_yaml}}
        tenants[tid] = (tier, served, demand)
    return Instance(units=units, allocatable=allocatable, tiers=tiers, tenants=tenants, files=files)


def write(instance: Instance, root: pathlib.Path) -> None:
    for rel, doc in instance.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        # JSON is YAML (1.2) and far quicker to write than yaml.safe_dump, which would dominate the test.
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def kind_of(key: str) -> str:
    return next(r.kind for r in RESOURCES if r.key == key)


@dataclasses.dataclass
class Tally:
    instances: int = 0
    envelopes: int = 0
    worst: Fraction = Fraction(0)


def check(instance: Instance, data: dict[str, object], tally: Tally) -> None:
    """Compare one plan's JSON with the oracle; raises AssertionError with the place on a mismatch."""
    plan_pools: dict[str, dict[str, dict[str, str]]] = data["pools"]  # type: ignore[assignment]
    plan_tenants: dict[str, dict[str, object]] = data["tenants"]  # type: ignore[assignment]
    for pool_name, exact in instance.allocatable.items():
        for key, value in exact.items():
            assert Fraction(Decimal(plan_pools[pool_name][key]["allocatable"])) == value, (pool_name, key)
        keys = list(exact)
        members = [tid for tid, (_, served, demand) in instance.tenants.items() if served and pool_name in demand]
        answer = exact_leximin.solve(capacity=[exact[k] for k in keys], tenants=[
            exact_leximin.Tenant(demand=[instance.tenants[tid][2][pool_name].get(k, Fraction(0)) for k in keys],
                                 weight=instance.tiers[instance.tenants[tid][0]][0],
                                 guarantee=instance.tiers[instance.tenants[tid][0]][1]) for tid in members])
        totals = dict.fromkeys(keys, Fraction(0))
        for tid, (_, served, demand) in instance.tenants.items():
            if pool_name not in demand:
                continue
            share: dict[str, dict[str, str]] = plan_tenants[tid]["pools"][pool_name]  # type: ignore[index]
            f = answer.fraction[members.index(tid)] if served else Fraction(0)
            if not served:
                assert share["limitedBy"] == "licence", (tid, pool_name)
            assert abs(Fraction(Decimal(share["fraction"])) - f) <= Fraction(1, 2 * 10**6) + Fraction(1, 10**12), \
                (tid, pool_name, share["fraction"], float(f))
            for key, asked in demand[pool_name].items():
                unit = Fraction(instance.units[kind_of(key)])
                got = Fraction(Decimal(share["envelope"][key]))
                where = (tid, pool_name, key, str(got), float(f * asked))
                assert got <= asked and (got / unit).denominator == 1, where
                deviation = abs(got - f * asked) / unit
                assert deviation < 1, where
                if f == 1 and (asked / unit).denominator == 1:
                    assert got == asked, where
                totals[key] += got
                tally.worst = max(tally.worst, deviation)
                tally.envelopes += 1
        for key in keys:
            assert totals[key] <= exact[key], (pool_name, key)
    tally.instances += 1


TALLY = Tally()


@pytest.mark.parametrize("block", range(10))
def test_plan_json_agrees_with_the_exact_leximin(block: int, tmp_path: pathlib.Path) -> None:
    # Ten blocks of fifty instances: a failure names its seed, and a block stays short.
    runner = CliRunner()
    for seed in range(block * INSTANCES // 10, (block + 1) * INSTANCES // 10):
        instance = generate(seed)
        root = tmp_path / f"quotas-{seed}"
        write(instance, root)
        result = runner.invoke(cli, ["plan", str(root), "--at", AT.isoformat(), "-o", "json"],
                               catch_exceptions=False)
        assert result.exit_code == 0, (seed, result.stderr)
        try:
            check(instance, json.loads(result.stdout), TALLY)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}") from exc
    if block == 9:
        print(f"\noracle: {TALLY.instances} instances, {TALLY.envelopes} envelopes, "
              f"worst deviation {float(TALLY.worst):.6f} unit")
