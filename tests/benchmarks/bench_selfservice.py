"""Benchmark: dctenant's own time per self-service create + delete, with an in-process fake cluster.

Run: python -m pytest -p no:kmock tests/benchmarks/bench_selfservice.py -s   (DCTENANT_BENCH_CYCLES=N)
Target (issue 17): p99 < 20 ms per cycle of dctenant's own work. The cluster is
``tests.selfservice_fakes.FakeCluster`` (a dict behind the five calls the use-cases make), not
the kmock emulator, whose growing request history dominated the earlier figure. Everything else
is real: the SQLite self-service store and the SQLite audit ledger on disk (each change writes
its intent and its outcome), the model cache, the decision, the rendering of six objects, and
for the HTTP path uvicorn on 127.0.0.1 with the bearer-token check, JSON and the guard.
One cycle = create a namespace (six objects applied) + delete it. Besides wall-clock time, the
in-process path reports its thread's CPU time, which a loaded machine does not inflate by waiting.
"""

from __future__ import annotations

import os
import pathlib
import statistics
import time

import httpx

from dctenant.api import app
from dctenant.clients import ledger_db, selfservice_db
from dctenant.ops import selfservice_usecases
from tests import selfservice_fakes
from tests.integration import selfservice_env
from tests.selfservice_quotas import write_quotas

CYCLES = int(os.environ.get("DCTENANT_BENCH_CYCLES", "200"))
WARMUP = 10
BODY = {"pool": "lab", "quota": {"cpu": "1", "memory": "1Gi"}}


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


def line(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"  {label:<11} {len(values) / sum(values):6.1f} cycles/s, p50 {statistics.median(ms):5.2f} ms, "
            f"p99 {p99(ms):5.2f} ms, max {max(ms):5.2f} ms")


def test_create_delete_cycles(tmp_path: pathlib.Path) -> None:
    quotas = write_quotas(tmp_path / "quotas")
    cluster = selfservice_fakes.FakeCluster()
    ledger = ledger_db.open_ledger(str(tmp_path / "state" / "ledger.db"))
    service = selfservice_usecases.SelfService(
        quotas_path=str(quotas), store=selfservice_db.Store(str(tmp_path / "state" / "selfservice.db")),
        ledger=ledger, connect=lambda _context: cluster)  # type: ignore[arg-type,return-value]
    token = service.create_token(selfservice_usecases.LOCAL, tenant="bale", days=1).secret
    identity = service.authenticate(f"Bearer {token}")
    inproc: list[float] = []
    inproc_cpu: list[float] = []
    http: list[float] = []
    try:
        with selfservice_env.serving(app.create_app(service)) as url, \
                httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            for i in range(WARMUP + CYCLES):  # alternate the paths so both see the same ledger size
                started, cpu = time.perf_counter(), time.thread_time()
                service.create(identity, "bale", {**BODY, "name": f"bale-p{i}"}, idempotency_key=f"p{i}")
                service.delete(identity, "bale", f"bale-p{i}")
                elapsed, used = time.perf_counter() - started, time.thread_time() - cpu
                if i >= WARMUP:
                    inproc.append(elapsed)
                    inproc_cpu.append(used)
                started = time.perf_counter()
                created = client.post("/v1/tenants/bale/namespaces", json={**BODY, "name": f"bale-h{i}"},
                                      headers={"Idempotency-Key": f"h{i}"})
                assert created.status_code == 201, created.text
                assert client.delete(f"/v1/tenants/bale/namespaces/bale-h{i}").status_code == 200
                elapsed = time.perf_counter() - started
                if i >= WARMUP:
                    http.append(elapsed)
        assert cluster.objects == {}
        events = ledger.count()
    finally:
        service.close()
        ledger.close()
    print(f"\nself-service create+delete, fake cluster, SQLite store and ledger, {CYCLES} cycles each "
          f"({events} ledger events at the end):")
    print(line("in process", inproc))
    print(line("  CPU only", inproc_cpu) + "   (this thread's CPU time: the machine's load left out)")
    print(line("over HTTP", http))
    print(f"  HTTP / in process: p99 {p99(http) / p99(inproc):.2f}x")
