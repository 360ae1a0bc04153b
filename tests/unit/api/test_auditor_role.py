"""``dctenant token create --auditor`` locally and through the API, and what an auditor token is."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import selfservice_fakes
from tests.unit.api.test_selfservice_cli import invoke


@pytest.fixture
def served(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[selfservice_fakes.Fakes, str]]:
    for name in ("DCTENANT_SERVER", "DCTENANT_TOKEN", "DCTENANT_LEDGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DCTENANT_CLIENT_CONFIG", str(tmp_path / "none.yaml"))
    with selfservice_fakes.served(tmp_path) as started:
        yield started


def test_token_create_auditor_locally(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.selfservice_quotas import write_quotas

    monkeypatch.delenv("DCTENANT_LEDGER", raising=False)
    quotas = write_quotas(tmp_path / "quotas")
    ledger = str(tmp_path / "state" / "ledger.db")
    code, out, err = invoke("token", "create", str(quotas), "--auditor", "--ledger", ledger, "-o", "json")
    assert code == 0, err
    made = json.loads(out)
    assert (made["scope"], made["tenant"]) == ("auditor", None) and made["token"].startswith("dct_")
    code, out, err = invoke("token", "list", str(quotas), "--ledger", ledger, "-o", "json")
    assert code == 0 and [t["scope"] for t in json.loads(out)["tokens"]] == ["auditor"]
    for wrong in (("--auditor", "--staff"), ("--auditor", "--tenant", "bale"), ("--staff", "--tenant", "bale"), ()):
        code, _, err = invoke("token", "create", str(quotas), *wrong, "--ledger", ledger)
        assert code == 2 and "--auditor" in err, wrong


def test_token_create_auditor_through_the_api(served: Any) -> None:
    fakes, url = served
    staff = fakes.token(tenant=None)
    code, out, err = invoke("token", "create", "--auditor", "--server", url, "--token", staff, "-o", "json")
    assert code == 0, err
    auditor = json.loads(out)["token"]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {auditor}"}) as client:
        assert client.get("/v1/whoami").json()["scope"] == "auditor"
        assert client.get("/v1/tenants/gap/namespaces").status_code == 200
        refused = client.post("/v1/tenants/gap/namespaces", json={"name": "gap-x", "pool": "lab",
                                                                  "quota": {"cpu": "1", "memory": "1Gi"}})
        assert refused.status_code == 403 and refused.json()["detail"] == "an auditor token is read-only"
    answer = httpx.post(f"{url}/v1/tokens", json={"scope": "auditor", "tenant": "bale"},
                        headers={"Authorization": f"Bearer {staff}"})
    assert answer.status_code == 422  # an auditor reads every tenant: it names none
    assert fakes.cluster.objects == {}
