"""The self-service decision on plain values: names, pools, quotas, the envelope, and what is rendered."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dctenant.domain import allocations, quotas
from dctenant.loaders import loading
from dctenant.ops import planning, selfservice_decisions
from dctenant.ops.selfservice_decisions import RefusedError
from tests.selfservice_quotas import write_quotas

GI = Decimal(2**30)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[quotas.Quotas, allocations.Allocation]:
    root = write_quotas(tmp_path_factory.mktemp("ss") / "quotas")
    model = loading.load(root)
    return model, planning.allocate(model, at=dt.date(2026, 11, 27))


def decide(world: Any, *, name: Any = "bale-web", pool: Any = "lab", quota: Any = None,
           reserved: tuple[selfservice_decisions.Reservation, ...] = (), tenant: str = "bale",
           resizing: bool = False) -> selfservice_decisions.Decision:
    model, allocation = world
    return selfservice_decisions.decide(model, allocation, tenant=tenant, name=name, pool=pool,
                              quota={"cpu": "1", "memory": "1Gi"} if quota is None else quota,
                              reserved=reserved, resizing=resizing)


def reservation(name: str, cpu: str, memory: Decimal = GI, tenant: str = "bale") -> selfservice_decisions.Reservation:
    return selfservice_decisions.Reservation(name=name, tenant=tenant, pool="lab",
                                   quota={"cpu": Decimal(cpu), "memory": memory})


def refused(world: Any, **kw: Any) -> RefusedError:
    with pytest.raises(RefusedError) as caught:
        decide(world, **kw)
    return caught.value


def test_a_namespace_that_fits_is_rendered_with_the_self_service_label(world: Any) -> None:
    decision = decide(world, quota={"cpu": "1500m", "memory": "1Gi", "storage": {"ssd-standard": "10Gi"}})
    assert decision.quota == {"cpu": Decimal("1.5"), "memory": GI, "storage/ssd-standard": 10 * GI}
    assert decision.room["cpu"].free == 10  # 12 envelope - 2 staff
    kinds = [m["kind"] for m in decision.manifests]
    assert kinds[:3] == ["Namespace", "ResourceQuota", "LimitRange"] and "NetworkPolicy" in kinds
    assert kinds.count("ConfigMap") == 2 and "RoleBinding" in kinds  # bandwidth and admission parameters
    for m in decision.manifests:
        labels = m["metadata"]["labels"]
        assert labels["dctenant.io/provisioned-by"] == "self-service"
        assert labels["dctenant.io/tenant"] == "bale"
        assert labels["app.kubernetes.io/managed-by"] == "dctenant"
    hard = decision.manifests[1]["spec"]["hard"]
    assert hard["requests.cpu"] == "1500m"
    assert hard["ssd-standard.storageclass.storage.k8s.io/requests.storage"] == "10Gi"


def test_the_envelope_counts_staff_and_self_service_namespaces(world: Any) -> None:
    nine = tuple(reservation(f"bale-n{i}", "1") for i in range(9))
    assert decide(world, reserved=nine).room["cpu"].self_service == 9
    error = refused(world, reserved=(*nine, reservation("bale-n9", "1")))
    assert error.status == 409
    assert "cpu: asked 1, free 0 of an envelope of 12" in error.message


def test_other_tenants_reservations_do_not_count(world: Any) -> None:
    others = tuple(reservation(f"gap-n{i}", "1", tenant="gap") for i in range(10))
    assert decide(world, reserved=others).room["cpu"].self_service == 0


def test_a_resize_leaves_the_namespace_s_own_quota_out(world: Any) -> None:
    reserved = (reservation("bale-web", "5"), reservation("bale-db", "5"))
    assert decide(world, quota={"cpu": "5", "memory": "1Gi"}, reserved=reserved, resizing=True).quota["cpu"] == 5
    assert refused(world, quota={"cpu": "6", "memory": "1Gi"}, reserved=reserved, resizing=True).status == 409
    assert refused(world, name="bale-nope", reserved=reserved, resizing=True).status == 404


@pytest.mark.parametrize(("name", "status", "words"), [
    ("web", 422, 'tenant prefix "bale-"'),
    ("gap-web", 422, 'tenant prefix "bale-"'),
    ("bale-", 422, "DNS-1123"),
    ("Bale-Web", 422, "DNS-1123"),
    ("bale-" + "x" * 60, 422, "DNS-1123"),
    (42, 422, "DNS-1123"),
    ("bale-core", 409, "declared by staff"),
    ("gap-core", 422, "tenant prefix"),
])
def test_name_rules(world: Any, name: Any, status: int, words: str) -> None:
    error = refused(world, name=name)
    assert error.status == status
    assert words in error.message


def test_a_name_already_reserved_is_a_conflict(world: Any) -> None:
    assert refused(world, reserved=(reservation("bale-web", "1"),)).status == 409


def test_unknown_pools_and_resources_are_refused_with_hints(world: Any) -> None:
    error = refused(world, pool="lob")
    assert (error.status, error.problems[0].hint) == (422, 'did you mean "lab"?')
    error = refused(world, quota={"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": 1})
    assert error.status == 422
    assert error.problems[0].message == 'pool "lab" has no nvidia.com/gpu'


@pytest.mark.parametrize("quota", [
    {"cpu": "lots", "memory": "1Gi"},
    {"cpu": "-1", "memory": "1Gi"},
    {"cpu": "1", "memory": "1Gi", "disk": "1"},
    {"cpu": "1", "memory": "1Gi", "storage": {"gold": "1Gi"}},
    {"cpu": "1", "memory": "1Gi", "bandwidth": {"egress": "1GiB"}},
    {"cpu": "1e999999", "memory": "1Gi"},
    {"memory": "1Gi"},
    {"cpu": "0", "memory": "1Gi"},
    "1 cpu",
    None,
])
def test_invalid_quotas_are_422(world: Any, quota: Any) -> None:
    model, allocation = world
    with pytest.raises(RefusedError) as caught:
        selfservice_decisions.decide(model, allocation, tenant="bale", name="bale-web", pool="lab", quota=quota,
                                     reserved=())
    assert caught.value.status == 422


def test_a_tenant_without_demand_in_the_pool_or_licence_gets_nothing(world: Any) -> None:
    model, allocation = world
    assert refused(world, tenant="nobody").status == 404
    tenant = allocation.tenants["bale"]
    share = tenant.shares["lab"]
    stripped = allocations.Allocation(
        at=allocation.at, pools=allocation.pools, namespaces=allocation.namespaces, warnings=(),
        tenants={**allocation.tenants, "bale": allocations.TenantAllocation(
            tenant="bale", licence=tenant.licence, weight=tenant.weight, guaranteed=tenant.guaranteed, shares={})})
    with pytest.raises(RefusedError, match="no demand in pool lab"):
        selfservice_decisions.decide(model, stripped, tenant="bale", name="bale-web", pool="lab",
                           quota={"cpu": "1", "memory": "1Gi"}, reserved=())
    from dctenant.domain import tenants

    suspended = allocations.Allocation(
        at=allocation.at, pools=allocation.pools, namespaces=allocation.namespaces, warnings=(),
        tenants={**allocation.tenants, "bale": allocations.TenantAllocation(
            tenant="bale", licence=tenants.LicenceState.SUSPENDED, weight=tenant.weight,
            guaranteed=tenant.guaranteed,
            shares={"lab": allocations.Share(pool="lab", demand=share.demand, envelope=dict.fromkeys(share.demand,
                                                                                                      Decimal(0)),
                                             fraction=Decimal(0), weighted_share=Decimal(0), dominant="",
                                             limited_by=allocations.LICENCE, round=0)})})
    with pytest.raises(RefusedError, match="licence is suspended"):
        selfservice_decisions.decide(model, suspended, tenant="bale", name="bale-web", pool="lab",
                           quota={"cpu": "1", "memory": "1Gi"}, reserved=())


def test_envelope_view(world: Any) -> None:
    model, allocation = world
    view = selfservice_decisions.envelope(model, allocation, tenant="bale", reserved=[reservation("bale-web", "3")])
    assert view["pools"]["lab"]["cpu"] == {"envelope": "12", "staff": "2", "selfService": "3", "free": "7"}
    assert "bandwidth/egress" not in view["pools"]["lab"]  # the tenant asked for none


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=25))
def test_accepting_in_any_order_never_exceeds_the_envelope(world: Any, millicores: list[int]) -> None:
    """Property: whatever sequence of requests arrives, accepted ones sum to at most the free room."""
    accepted: list[selfservice_decisions.Reservation] = []
    for i, m in enumerate(millicores):
        try:
            decision = decide(world, name=f"bale-n{i}", quota={"cpu": f"{m}m", "memory": "1Mi"},
                              reserved=tuple(accepted))
        except RefusedError as exc:
            assert exc.status == 409
            continue
        accepted.append(selfservice_decisions.Reservation(name=decision.name, tenant="bale", pool="lab",
                                                          quota=decision.quota))
    assert sum((r.quota["cpu"] for r in accepted), Decimal(0)) <= 10
