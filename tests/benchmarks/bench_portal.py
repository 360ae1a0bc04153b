"""Benchmark: server time for a messenger's portal page (issue 20: median < 300 ms).

Run: python -m pytest -p no:kmock tests/benchmarks/bench_portal.py -s   (DCTENANT_BENCH_PAGES=N)
The data centre is ``generate.generate`` with 1,000 tenants (4 pools, 5 staff-declared namespaces
each); one tenant with a served licence gets 45 self-service namespaces on top, 50 in all. The
page is requested through the whole ASGI stack (guard, body limit, FastAPI mount, the portal's
session lookup in SQLite, the use-cases, Jinja2) with Starlette's in-process client, so the figure
is the server's time without a network. The first request (which loads quotas/ and allocates the
data centre, cached afterwards) is reported separately.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import re
import statistics
import time
import warnings

from dctenant.api import app
from dctenant.clients import ledger_db, selfservice_db
from dctenant.ops import selfservice_usecases
from tests import selfservice_fakes
from tests.benchmarks import generate

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient prefers httpx2; httpx works
    from starlette.testclient import TestClient

PAGES = int(os.environ.get("DCTENANT_BENCH_PAGES", "40"))


def test_messenger_page_with_50_namespaces_among_1000_tenants(tmp_path: pathlib.Path) -> None:
    quotas = generate.generate(tmp_path / "quotas", tenants=1000, namespaces=5)
    cluster = selfservice_fakes.FakeCluster()
    ledger = ledger_db.open_ledger(str(tmp_path / "state" / "ledger.db"))
    store = selfservice_db.Store(str(tmp_path / "state" / "selfservice.db"))
    service = selfservice_usecases.SelfService(quotas_path=str(quotas), store=store, ledger=ledger,
                                               connect=lambda _context: cluster)  # type: ignore[arg-type,return-value]
    model, allocation = service.model()
    tenant = next(t for t in sorted(allocation.tenants) if allocation.tenants[t].licence.served)
    pool = sorted(allocation.tenants[tenant].shares)[0]
    now = dt.datetime.now(dt.UTC)
    with store.transaction(tenant=tenant) as tx:
        for i in range(45):
            tx.add_namespace(selfservice_db.NamespaceRow(name=f"{tenant}-self{i}", tenant=tenant, pool=pool,
                                                         quota={"cpu": "0.001", "memory": "1048576"}, state="active",
                                                         created_at=now, created_by="bench"))
    token = service.create_token(selfservice_usecases.LOCAL, tenant=tenant, days=1).secret
    try:
        client = TestClient(app.create_app(service), base_url="https://testserver", follow_redirects=False)
        page = client.get("/portal/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
        assert nonce is not None
        assert client.post("/portal/login", data={"nonce": nonce[1], "token": token}).status_code == 303
        started = time.perf_counter()
        first = client.get(f"/portal/tenants/{tenant}")
        cold = time.perf_counter() - started
        assert first.status_code == 200 and first.text.count('<tr id="ns-') == 50
        times = []
        for _ in range(PAGES):
            started = time.perf_counter()
            answer = client.get(f"/portal/tenants/{tenant}")
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200
        ms = sorted(t * 1000 for t in times)
        print(f"\nportal messenger page, tenant {tenant} with 50 namespaces among {len(model.tenants)} tenants: "
              f"first {cold * 1000:.0f} ms (loads and allocates), then median {statistics.median(ms):.1f} ms, "
              f"p90 {ms[int(len(ms) * 0.9) - 1]:.1f} ms over {PAGES} pages ({len(first.content) // 1024} KiB)")
    finally:
        service.close()
        ledger.close()
