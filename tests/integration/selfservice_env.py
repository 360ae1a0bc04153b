"""A self-service API for the tests: a small data centre, a kmock cluster, a database, uvicorn on 127.0.0.1.

The data centre has one pool ``lab`` (kubeconfig context ``kmock-lab``) and two tenants, ``bale``
and ``gap``, each with a demand of 12 CPUs and 12Gi in it and a staff-declared namespace of 2 CPUs
and 2Gi: 10 CPUs and 10Gi remain for self-service, exactly ten namespaces of 1 CPU and 1Gi.
The server runs in a thread of the test process on a port the kernel chose, and the tests reach
it over real HTTP; the database is a SQLite file or a real PostgreSQL (``postgres_server``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import pathlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from dctenant.api import app as api_app
from dctenant.clients import ledger_db, selfservice_db
from dctenant.domain import usage
from dctenant.ops import selfservice_usecases
from tests.integration import kmock_cluster
from tests.selfservice_quotas import write_quotas

CONTEXT = "kmock-lab"

def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on 127.0.0.1; yield its base URL."""
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", limit_concurrency=500,
                                           backlog=512))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@dataclass
class Env:
    """Everything one test needs: the service object, its cluster, its URL and ready-made tokens."""

    service: selfservice_usecases.SelfService
    cluster: kmock_cluster.Emulator
    ledger: ledger_db.Ledger
    quotas: pathlib.Path
    url: str = ""
    app: Any = None

    def token(self, *, tenant: str | None, days: int = 30) -> str:
        return self.service.create_token(selfservice_usecases.LOCAL, tenant=tenant, days=days).secret

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def environment(tmp: pathlib.Path, *, database: str | None = None, http: bool = True,
                clock: Any = None) -> Iterator[Env]:
    """A service over a fresh data centre, kmock cluster and database (SQLite in ``tmp`` by default)."""
    quotas = write_quotas(tmp / "quotas")
    url = database or str(tmp / "state" / "ledger.db")
    with kmock_cluster.emulators([CONTEXT]) as started:
        config = kmock_cluster.kubeconfig(tmp / "kubeconfig", started)
        store = selfservice_db.Store(url if database else str(tmp / "state" / "selfservice.db"))
        ledger = ledger_db.open_ledger(url)
        service = selfservice_usecases.SelfService(quotas_path=str(quotas), store=store, ledger=ledger,
                                          kubeconfig=str(config), clock=clock)
        env = Env(service=service, cluster=started[CONTEXT], ledger=ledger, quotas=quotas,
                  app=api_app.create_app(service))
        try:
            if http:
                with serving(env.app) as base:
                    env.url = base
                    yield env
            else:
                yield env
        finally:
            service.close()
            ledger.close()


def no_usage(names: Any, at: dt.datetime) -> usage.Usage:
    """A stand-in for Prometheus: every namespace seen, nothing used."""
    return usage.Usage(at=at, seen=frozenset(names))
