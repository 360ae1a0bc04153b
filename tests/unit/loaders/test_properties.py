"""Property tests of the loader: random valid data centres load and keep their values; random
mutations of valid files are reported as ``ValidationError`` and never crash the loader."""

from __future__ import annotations

import datetime as dt
import pathlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dctenant.domain import quantities, resources
from dctenant.errors import ValidationError
from dctenant.loaders import loading
from tests.conftest import EXAMPLE

API = "dctenant.io/v1alpha1"
QUANTITY_SUFFIXES = {"": 1, "k": 1000, "M": 10**6, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
CPU_SUFFIXES = {"": Decimal(1), "m": Decimal("0.001"), "k": Decimal(1000)}
BANDWIDTH_UNITS = {"bps": 1, "Kbps": 10**3, "Mbps": 10**6, "Gbps": 10**9, "Tbps": 10**12}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,4})?", fullmatch=True)


@dataclass
class Spelt:
    """A value as written in YAML and the exact amount the loader must read from it."""

    text: Any
    value: Decimal


def quantity(suffixes: dict[str, Any]) -> st.SearchStrategy[Spelt]:
    def spell(mantissa: int, suffix: str, quoted: bool) -> Spelt:
        text: Any = f"{mantissa}{suffix}"
        if suffix == "" and not quoted:
            text = mantissa  # a plain YAML integer
        return Spelt(text=text, value=Decimal(mantissa) * Decimal(suffixes[suffix]))

    return st.builds(spell, st.integers(0, 10**6), st.sampled_from(sorted(suffixes)), st.booleans())


def amount_for(key: str) -> st.SearchStrategy[Spelt]:
    kind = resources.kind(key)
    if kind is resources.Kind.CPU:
        return quantity(CPU_SUFFIXES)
    if kind is resources.Kind.GPU:
        return st.integers(0, 512).map(lambda n: Spelt(text=n, value=Decimal(n)))
    if kind is resources.Kind.BANDWIDTH:
        return st.builds(lambda n, u: Spelt(text=f"{n}{u}", value=Decimal(n) * BANDWIDTH_UNITS[u]),
                         st.integers(0, 10**5), st.sampled_from(sorted(BANDWIDTH_UNITS)))
    return quantity(QUANTITY_SUFFIXES)


def to_map(amounts: dict[str, Any]) -> dict[str, Any]:
    """A flat {resource key: text} as the nested YAML resource map."""
    out: dict[str, Any] = {}
    for key, text in amounts.items():
        if key.startswith(resources.STORAGE_PREFIX):
            out.setdefault("storage", {})[key.removeprefix(resources.STORAGE_PREFIX)] = text
        elif key.startswith(resources.BANDWIDTH_PREFIX):
            out.setdefault("bandwidth", {})[key.removeprefix(resources.BANDWIDTH_PREFIX)] = text
        else:
            out[key] = text
    return out


def spell(key: str, value: Decimal) -> str:
    return resources.format_amount(key, value)


@dataclass
class World:
    files: dict[str, dict[str, Any]]
    capacity: dict[str, dict[str, Decimal]]
    reserve_cpu: dict[str, Decimal]
    demand: dict[str, dict[str, dict[str, Decimal]]]
    quotas: dict[str, dict[str, Decimal]]
    tiers: dict[str, tuple[Decimal, Decimal]]
    licences: dict[str, tuple[dt.date, dt.date, str]]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    classes = draw(st.lists(st.sampled_from(["nvme", "ssd", "hdd", "tape.cold", "s3"]), min_size=1, max_size=3,
                            unique=True))
    pool_names = draw(st.lists(label, min_size=1, max_size=3, unique=True))
    reserve_pct = draw(st.integers(0, 50))
    cpu_over = draw(st.sampled_from(["1", "1.5", "2", "3.25"]))
    pools, capacity, reserve_cpu = [], {}, {}
    for name in pool_names:
        keys = ["cpu", "memory"]
        keys += draw(st.lists(st.sampled_from(["nvidia.com/gpu", *(resources.storage(c) for c in classes),
                                                resources.EGRESS, resources.INGRESS]), unique=True))
        spelt = {key: draw(amount_for(key)) for key in keys}
        capacity[name] = {k: s.value for k, s in spelt.items()}
        reserve_cpu[name] = resources.round_up("cpu", capacity[name]["cpu"] * reserve_pct / 100)
        pools.append({"name": name, "site": f"Site {name}", "context": f"ctx-{name}",
                      "capacity": to_map({k: s.text for k, s in spelt.items()})})
    datacentre = {"apiVersion": API, "kind": "DataCentre", "metadata": {"name": "dc"},
                  "spec": {"storageClasses": [{"name": c} for c in classes],
                           "reserve": {"cpu": f"{reserve_pct}%"}, "overcommit": {"cpu": cpu_over},
                           "pools": pools}}

    tier_names = draw(st.lists(label, min_size=1, max_size=3, unique=True))
    tiers = {n: (Decimal(draw(st.integers(1, 10))), Decimal(draw(st.integers(0, 100))) / 100) for n in tier_names}
    policy = {"apiVersion": API, "kind": "Policy", "metadata": {"name": "pol"},
              "spec": {"tiers": {n: {"weight": int(w), "guaranteed": f"{int(g * 100)}%"}
                                 for n, (w, g) in tiers.items()}}}

    files: dict[str, dict[str, Any]] = {"datacentre.yaml": datacentre, "policy.yaml": policy}
    demand: dict[str, dict[str, dict[str, Decimal]]] = {}
    quotas: dict[str, dict[str, Decimal]] = {}
    licences = {}
    # Valid data centres never have a tenant id that is another's followed by "-" (the loader refuses it).
    ids = draw(st.lists(label, max_size=4, unique=True).filter(
        lambda found: not any(a != b and a.startswith(b + "-") for a in found for b in found)))
    for tenant_id in ids:
        issued = draw(st.dates(dt.date(2000, 1, 1), dt.date(2030, 1, 1)))
        expires = issued + dt.timedelta(days=draw(st.integers(1, 4000)))
        status = draw(st.sampled_from(["active", "suspended", "revoked"]))
        licences[tenant_id] = (issued, expires, status)
        demand[tenant_id] = {}
        raw_demand, namespaces = {}, []
        for pool_name in draw(st.lists(st.sampled_from(pool_names), min_size=1, unique=True)):
            keys = draw(st.lists(st.sampled_from(sorted(capacity[pool_name])), min_size=1, unique=True))
            spelt = {key: draw(amount_for(key)) for key in keys}
            demand[tenant_id][pool_name] = {k: s.value for k, s in spelt.items()}
            raw_demand[pool_name] = to_map({k: s.text for k, s in spelt.items()})
            count = draw(st.integers(0, 3))
            for i in range(count):
                # Each namespace takes an equal share, rounded down to what the unit can say.
                share = {k: (v / count).quantize(Decimal("0.001") if k == "cpu" else Decimal(1), rounding=ROUND_FLOOR)
                         for k, v in demand[tenant_id][pool_name].items()}
                ns_name = f"{tenant_id}-{pool_name}-{i}"
                quotas[ns_name] = share
                namespaces.append({"name": ns_name, "pool": pool_name,
                                   "quota": to_map({k: spell(k, v) for k, v in share.items()})})
        files[f"tenants/{tenant_id}.yaml"] = {
            "apiVersion": API, "kind": "Tenant", "metadata": {"name": tenant_id},
            "spec": {"displayName": {"en": tenant_id.title(), "fa": "نام"}, "tier": draw(st.sampled_from(tier_names)),
                     "licence": {"number": f"L-{tenant_id}", "issued": issued, "expires": expires, "status": status},
                     "owners": {"groups": [f"{tenant_id}-admins"]}, "demand": raw_demand,
                     "namespaces": namespaces}}
    return World(files=files, capacity=capacity, reserve_cpu=reserve_cpu, demand=demand, quotas=quotas,
                 tiers=tiers, licences=licences)


def write(root: pathlib.Path, files: dict[str, Any]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        path.write_text(text, encoding="utf-8")


@given(worlds())
@SETTINGS
def test_random_valid_data_centres_load_and_keep_their_values(world: World) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write(pathlib.Path(tmp), world.files)
        model = loading.load(tmp)
    assert model.datacentre.pool_names == tuple(world.capacity)
    for pool in model.datacentre.pools:
        assert dict(pool.capacity) == world.capacity[pool.name]
        assert pool.reserve.get("cpu") == world.reserve_cpu[pool.name]
    assert {n: (t.weight, t.guaranteed) for n, t in model.policy.tiers.items()} == world.tiers
    assert {t.id for t in model.tenants} == set(world.demand)
    for tenant in model.tenants:
        assert {p: dict(d) for p, d in tenant.demand.items()} == world.demand[tenant.id]
        lic = tenant.licence
        assert (lic.issued, lic.expires, lic.status.value) == world.licences[tenant.id]
        for ns in tenant.namespaces:
            assert dict(ns.quota) == world.quotas[ns.name]


@given(st.integers(0, 2**62), st.sampled_from(["cpu", "memory", "nvidia.com/gpu", "storage/x", "bandwidth/egress"]))
@settings(max_examples=300)
def test_canonical_spelling_round_trips(value: int, key: str) -> None:
    amount = Decimal(value) / 1000 if key == "cpu" else Decimal(value)
    assert resources.parse_amount(key, resources.format_amount(key, amount)) == amount


# Mutations of the shipped example ---------------------------------------------------------------

EXAMPLE_FILES = {str(p.relative_to(EXAMPLE)): yaml.safe_load(p.read_text(encoding="utf-8"))
                 for p in sorted(EXAMPLE.rglob("*.yaml"))}
EXAMPLE_TEXT = {rel: (EXAMPLE / rel).read_text(encoding="utf-8") for rel in EXAMPLE_FILES}


def leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a scalar, and to every key (marked by a trailing ``KEY``)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*path, key, KEY)
            yield from leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from leaves(item, (*path, i))
    else:
        yield path


KEY = object()

random_values = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.dates(), st.sampled_from(["5%", "-1", "1e999999", "10GB", "0.5", "1.5Gi", "Gbps", "",
                                                       "%", "2022-13-01", "thr-ab", "national", "9" * 5000]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
random_keys = st.one_of(st.text(max_size=10), st.integers(), st.sampled_from(["cpu", "storage", "spec", "name"]))


def mutate(data: Any, path: tuple[Any, ...], value: Any, new_key: Any) -> Any:
    if not path:
        return value
    if path[-1] is KEY:
        *parent, key = path[:-1]
        target = data
        for part in parent:
            target = target[part]
        target[new_key] = target.pop(key)
        return data
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


def load_or_problems(root: pathlib.Path) -> None:
    try:
        loading.load(root)
    except ValidationError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file.startswith(str(root))
            assert problem.line is None or problem.line >= 1
            assert str(problem)


@st.composite
def structural_mutations(draw: st.DrawFn) -> tuple[str, Any]:
    rel = draw(st.sampled_from(sorted(EXAMPLE_FILES)))
    import copy

    data = copy.deepcopy(EXAMPLE_FILES[rel])
    for _ in range(draw(st.integers(1, 3))):
        paths = list(leaves(data))
        path = draw(st.sampled_from(paths))
        data = mutate(data, path, draw(random_values), draw(random_keys))
    return rel, data


@given(structural_mutations())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_value_and_key_mutations_never_crash(mutation: tuple[str, Any]) -> None:
    rel, data = mutation
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "q"
        shutil.copytree(EXAMPLE, root)
        try:
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        except yaml.YAMLError:
            assume(False)
        (root / rel).write_text(text, encoding="utf-8")
        load_or_problems(root)


@given(st.sampled_from(sorted(EXAMPLE_TEXT)), st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_text_edits_never_crash(rel: str, data: st.DataObject) -> None:
    text = EXAMPLE_TEXT[rel]
    for _ in range(data.draw(st.integers(1, 3))):
        lines = text.splitlines(keepends=True)
        i = data.draw(st.integers(0, len(lines) - 1))
        edit = data.draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "insert", "truncate"]))
        if edit == "delete":
            del lines[i]
        elif edit == "duplicate":
            lines.insert(i, lines[i])
        elif edit == "indent":
            lines[i] = "  " + lines[i]
        elif edit == "dedent":
            lines[i] = lines[i][2:]
        elif edit == "insert":
            lines.insert(i, data.draw(st.text(max_size=20)) + "\n")
        else:
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))] + "\n"
        text = "".join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "q"
        shutil.copytree(EXAMPLE, root)
        (root / rel).write_bytes(text.encode("utf-8", "surrogatepass"))
        load_or_problems(root)


def test_quantity_suffix_table_matches_the_parser() -> None:
    for suffix, factor in QUANTITY_SUFFIXES.items():
        assert quantities.Quantity.parse(f"3{suffix}") == 3 * factor
    for unit, factor in BANDWIDTH_UNITS.items():
        assert quantities.Bandwidth.parse(f"3{unit}") == 3 * factor
