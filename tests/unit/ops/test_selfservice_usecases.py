"""The self-service use-cases over in-memory fakes: approvals as data, events before changes, isolation.

The store is SQLite in memory, the cluster a dict and the ledger a list (``tests.selfservice_fakes``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
from decimal import Decimal
from typing import Any

import pytest

from dctenant.domain import tenants
from dctenant.errors import BackendError
from dctenant.loaders import loading
from dctenant.ops import planning, selfservice_decisions, selfservice_usecases
from dctenant.ops.selfservice_decisions import RefusedError
from tests import selfservice_fakes

LOCAL = selfservice_usecases.LOCAL
SMALL = {"cpu": "1", "memory": "1Gi"}


@pytest.fixture
def fakes(tmp_path: pathlib.Path) -> selfservice_fakes.Fakes:
    return selfservice_fakes.service(tmp_path)


def create(fakes: selfservice_fakes.Fakes, name: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    return fakes.service.create(LOCAL, "bale", {"name": name, "pool": "lab", "quota": SMALL}, **kw)


def free_cpu(fakes: selfservice_fakes.Fakes) -> str:
    return str(fakes.service.envelope(LOCAL, "bale")["pools"]["lab"]["cpu"]["free"])


def file_request(fakes: selfservice_fakes.Fakes, mode: str, amounts: dict[str, Any]) -> int:
    return int(fakes.service.file_request(LOCAL, "bale", {"pool": "lab", "mode": mode, "amounts": amounts,
                                                          "reason": "growth"})["id"])


def test_the_intent_is_recorded_before_the_cluster_sees_the_namespace(fakes: selfservice_fakes.Fakes) -> None:
    seen: list[list[str]] = []

    def watch(_verb: str, manifest: Any) -> bool:
        seen.append(fakes.ledger.kinds())
        return False

    fakes.cluster.fail_on = watch
    create(fakes, "bale-web")
    assert seen and all(kinds[-1] == selfservice_usecases.INTENDED for kinds in seen)
    assert fakes.ledger.kinds() == [selfservice_usecases.INTENDED, "namespace-created"]
    intent = fakes.ledger.recorded[0]
    assert intent.after == {"change": "namespace-created", "quota": {"cpu": "1", "memory": str(2**30)}}
    seen.clear()
    fakes.service.delete(LOCAL, "bale", "bale-web")
    assert fakes.ledger.kinds()[-2:] == [selfservice_usecases.INTENDED, "namespace-deleted"]


def test_a_failing_ledger_stops_a_create_before_anything_happens(fakes: selfservice_fakes.Fakes) -> None:
    fakes.ledger.failing = True
    with pytest.raises(BackendError, match="injected insert failure"):
        create(fakes, "bale-web", idempotency_key="k")
    assert fakes.cluster.objects == {}
    assert fakes.cluster.calls == 0
    with fakes.service.store.transaction() as tx:
        assert tx.namespaces() == []
        assert tx.idempotency(tenant="bale", key="k") is None
    fakes.ledger.failing = False
    assert free_cpu(fakes) == "10"
    assert create(fakes, "bale-web", idempotency_key="k")[0] == 201  # the key was not spent


def test_a_failing_ledger_stops_a_delete_and_a_resize(fakes: selfservice_fakes.Fakes) -> None:
    create(fakes, "bale-web")
    fakes.ledger.failing = True
    with pytest.raises(BackendError):
        fakes.service.delete(LOCAL, "bale", "bale-web")
    with pytest.raises(BackendError):
        fakes.service.resize(LOCAL, "bale", "bale-web", {"quota": {"cpu": "2", "memory": "1Gi"}})
    assert fakes.cluster.named("Namespace") == {"bale-web"}
    quota = fakes.cluster.objects[("ResourceQuota", "bale-web", "dctenant-quota")]
    assert quota["spec"]["hard"]["requests.cpu"] == "1"
    fakes.ledger.failing = False
    assert fakes.service.namespace(LOCAL, "bale", "bale-web")["state"] == "active"


def test_a_failed_apply_records_its_outcome(fakes: selfservice_fakes.Fakes) -> None:
    fakes.cluster.fail_on = lambda _verb, manifest: manifest["kind"] == "LimitRange"
    with pytest.raises(RefusedError) as failed:
        create(fakes, "bale-web")
    assert failed.value.status == 502
    assert fakes.ledger.kinds() == [selfservice_usecases.INTENDED, selfservice_usecases.FAILED]
    assert fakes.cluster.objects == {}
    assert free_cpu(fakes) == "10"


def test_an_approval_is_data_every_envelope_and_the_plan_see(fakes: selfservice_fakes.Fakes,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: pathlib.Path) -> None:
    text = (fakes.quotas / "tenants" / "bale.yaml").read_text()
    first = file_request(fakes, "add", {"cpu": "8"})
    second = file_request(fakes, "to", {"cpu": "25", "memory": "20Gi"})
    approved = fakes.service.decide_request(LOCAL, first, approve=True, reason="ok")
    assert (approved["before"], approved["result"]) == ({"cpu": "12"}, {"cpu": "20"})
    assert free_cpu(fakes) == "18"  # 20 - 2 staff
    rejected = fakes.service.decide_request(LOCAL, second, approve=False, reason="no")
    assert rejected["state"] == "rejected" and rejected["result"] is None
    with pytest.raises(RefusedError) as again:
        fakes.service.decide_request(LOCAL, first, approve=False)
    assert again.value.status == 409
    assert (fakes.quotas / "tenants" / "bale.yaml").read_text() == text  # untouched until export
    kinds = fakes.ledger.kinds()
    assert kinds.count("quota-increase-approved") == 1 and kinds.count("quota-increase-rejected") == 1
    # The plan reads the approved increase from the database named by $DCTENANT_LEDGER.
    database = tmp_path / "state" / "ledger.db"
    store = selfservice_fakes.selfservice_db.Store(str(database.with_name("selfservice.db")))
    with store.transaction(tenant="bale") as tx:
        rid = tx.add_request(tenant="bale", pool="lab", demand={"cpu": "3"}, reason="r", at=fakes.clock.now,
                             by="t", mode="add")
        tx.decide_request(rid, state="approved", by="s", decision="", at=fakes.clock.now, before={"cpu": "12"},
                          result={"cpu": "15"})
    store.close()
    monkeypatch.delenv("DCTENANT_LEDGER", raising=False)
    plain = planning.plan(str(fakes.quotas), at=dt.date(2026, 11, 27))
    assert plain.model.tenant("bale").demand["lab"]["cpu"] == 12
    monkeypatch.setenv("DCTENANT_LEDGER", str(database))
    raised = planning.plan(str(fakes.quotas), at=dt.date(2026, 11, 27))
    assert raised.model.tenant("bale").demand["lab"]["cpu"] == 15
    assert raised.allocation.tenants["bale"].shares["lab"].envelope["cpu"] == 15


def test_increase_requests_must_increase(fakes: selfservice_fakes.Fakes) -> None:
    for mode, amounts in (("to", {"cpu": "12"}), ("to", {"cpu": "11"}), ("add", {"cpu": "0"})):
        with pytest.raises(RefusedError) as refused:
            file_request(fakes, mode, amounts)
        assert refused.value.status == 422 and refused.value.title == "Not an increase"
    assert file_request(fakes, "to", {"cpu": "12001m"}) >= 1  # just above: an increase


def test_a_failing_ledger_leaves_the_request_pending(fakes: selfservice_fakes.Fakes) -> None:
    rid = file_request(fakes, "add", {"cpu": "1"})
    fakes.ledger.failing = True
    with pytest.raises(BackendError):
        fakes.service.decide_request(LOCAL, rid, approve=True)
    fakes.ledger.failing = False
    assert fakes.service.requests(LOCAL, state="pending")[0]["id"] == rid
    assert free_cpu(fakes) == "10"


def test_a_tenant_cannot_take_a_longer_tenants_prefix(fakes: selfservice_fakes.Fakes) -> None:
    # Built in code, not loaded: the loader may refuse such a pair of ids; the check must hold anyway.
    model = loading.load(fakes.quotas)
    bale = model.tenant("bale")
    longer = dataclasses.replace(bale, id="bale-x", namespaces=())
    model = dataclasses.replace(model, tenants=(*model.tenants, longer))
    assert isinstance(longer, tenants.Tenant)
    allocation = planning.allocate(model, at=dt.date(2026, 11, 27))
    with pytest.raises(RefusedError) as refused:
        selfservice_decisions.decide(model, allocation, tenant="bale", name="bale-x-web", pool="lab", quota=SMALL,
                                     reserved=())
    assert refused.value.status == 409 and "bale-x" in str(refused.value)
    ok = selfservice_decisions.decide(model, allocation, tenant="bale-x", name="bale-x-web", pool="lab",
                                      quota=SMALL, reserved=())
    assert ok.name == "bale-x-web"
    assert selfservice_decisions.decide(model, allocation, tenant="bale", name="bale-xy", pool="lab", quota=SMALL,
                                        reserved=()).quota["cpu"] == Decimal(1)


def test_another_tenants_namespace_is_unknown_even_with_the_prefix(fakes: selfservice_fakes.Fakes) -> None:
    with fakes.service.store.transaction(tenant="gap") as tx:  # a row owned by gap whose name says bale
        tx.add_namespace(selfservice_fakes.selfservice_db.NamespaceRow(
            name="bale-odd", tenant="gap", pool="lab", quota={"cpu": "1", "memory": "1"}, state="active",
            created_at=fakes.clock.now, created_by="t"))
    for call in (lambda: fakes.service.delete(LOCAL, "bale", "bale-odd"),
                 lambda: fakes.service.resize(LOCAL, "bale", "bale-odd", {"quota": SMALL})):
        with pytest.raises(RefusedError) as refused:
            call()
        assert refused.value.status == 404
