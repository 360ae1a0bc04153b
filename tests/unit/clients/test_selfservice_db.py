"""The self-service store on SQLite (in memory, and a file for the migration): rows, decisions, keys."""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3

from dctenant.clients import selfservice_db

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def test_a_request_is_decided_exactly_once() -> None:
    store = selfservice_db.Store("sqlite://")
    with store.transaction(tenant="bale") as tx:
        rid = tx.add_request(tenant="bale", pool="lab", demand={"cpu": "8"}, reason="r", at=NOW, by="t", mode="add")
    with store.transaction(tenant="bale") as tx:
        assert tx.decide_request(rid, state="approved", by="a", decision="", at=NOW, before={"cpu": "12"},
                                 result={"cpu": "20"})
        assert not tx.decide_request(rid, state="rejected", by="b", decision="", at=NOW)
    with store.transaction() as tx:
        row = tx.request(rid)
        assert row is not None and (row.state, row.decided_by, row.mode) == ("approved", "a", "add")
        assert (row.before, row.result, row.exported_at) == ({"cpu": "12"}, {"cpu": "20"}, None)
        assert [r.id for r in tx.approved()] == [rid]
        assert tx.mark_exported([rid], at=NOW) == 1
        assert tx.mark_exported([rid], at=NOW) == 0
        assert tx.approved() == [] and [r.id for r in tx.approved(exported=True)] == [rid]
    store.close()


def test_idempotency_rows_keep_the_first_answer_and_expire_at_the_boundary() -> None:
    store = selfservice_db.Store("sqlite://")
    with store.transaction(tenant="bale") as tx:
        tx.add_idempotency(selfservice_db.IdempotencyRow(tenant="bale", key="k", fingerprint="f", namespace="bale-a",
                                                         created_at=NOW))
        tx.add_idempotency(selfservice_db.IdempotencyRow(tenant="gap", key="k", fingerprint="f", namespace="gap-a",
                                                         created_at=NOW))
        row = tx.idempotency(tenant="bale", key="k")
        assert row is not None and row.status is None and row.response is None
        tx.answer_idempotency(tenant="bale", key="k", status=201, response={"name": "bale-a"})
        row = tx.idempotency(tenant="bale", key="k")
        assert row is not None and (row.status, row.response) == (201, {"name": "bale-a"})
        assert tx.expire_idempotency(tenant="bale", before=NOW - dt.timedelta(microseconds=1)) == 0
        assert tx.expire_idempotency(tenant="bale", before=NOW) == 1  # first used at or before: gone
        assert tx.idempotency(tenant="bale", key="k") is None
        assert tx.idempotency(tenant="gap", key="k") is not None  # only the tenant's own keys
    store.close()


def test_version_1_tables_are_migrated(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the version-1 tables as they were created
        conn.executescript("""
            CREATE TABLE ss_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(200) NOT NULL);
            INSERT INTO ss_meta VALUES ('schema_version', '1');
            CREATE TABLE ss_idempotency (tenant VARCHAR(64), key VARCHAR(200), fingerprint VARCHAR(64) NOT NULL,
                namespace VARCHAR(63) NOT NULL, created_at VARCHAR(40) NOT NULL, PRIMARY KEY (tenant, key));
            CREATE TABLE ss_requests (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant VARCHAR(64) NOT NULL,
                pool VARCHAR(64) NOT NULL, demand TEXT NOT NULL, reason VARCHAR(2000) NOT NULL,
                state VARCHAR(16) NOT NULL, created_at VARCHAR(40) NOT NULL, created_by VARCHAR(200) NOT NULL,
                decided_at VARCHAR(40), decided_by VARCHAR(200) NOT NULL, decision VARCHAR(2000) NOT NULL);
            INSERT INTO ss_requests (tenant, pool, demand, reason, state, created_at, created_by, decided_by, decision)
                VALUES ('bale', 'lab', '{"cpu": "20"}', 'r', 'pending', '2026-11-27T12:00:00+00:00', 't', '', '');
        """)
    conn.close()
    store = selfservice_db.Store(str(path))
    with store.transaction() as tx:
        (row,) = tx.requests()
        assert (row.mode, row.demand, row.result) == ("to", {"cpu": "20"}, None)
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM ss_meta WHERE key='schema_version'").fetchone() == ("3",)
    conn.close()


def test_version_2_tokens_gain_a_role_column(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as conn:  # a version-2 token table, without the role column
        conn.executescript("""
            CREATE TABLE ss_meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(200) NOT NULL);
            INSERT INTO ss_meta VALUES ('schema_version', '2');
            CREATE TABLE ss_tokens (id VARCHAR(32) PRIMARY KEY, tenant VARCHAR(64), salt VARCHAR(64) NOT NULL,
                digest VARCHAR(64) NOT NULL, created_at VARCHAR(40) NOT NULL, expires_at VARCHAR(40) NOT NULL,
                revoked_at VARCHAR(40), created_by VARCHAR(200) NOT NULL, note VARCHAR(500) NOT NULL);
            INSERT INTO ss_tokens VALUES ('abc', NULL, 's', 'd', '2026-11-27T12:00:00+00:00',
                '2027-11-27T12:00:00+00:00', NULL, 'local', '');
        """)
    conn.close()
    store = selfservice_db.Store(str(path))
    with store.transaction() as tx:
        row = tx.token("abc")
    store.close()
    assert row is not None and row.tenant is None and row.role is None  # an old staff token stays staff
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM ss_meta WHERE key='schema_version'").fetchone() == ("3",)
    conn.close()


def test_store_url_places_the_tables_beside_a_sqlite_ledger() -> None:
    assert selfservice_db.store_url(None) is None
    assert selfservice_db.store_url("/var/lib/dctenant/ledger.db") == "/var/lib/dctenant/selfservice.db"
    assert selfservice_db.store_url("postgresql://h/db") == "postgresql://h/db"
