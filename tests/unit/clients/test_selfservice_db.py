"""The self-service store on SQLite (in memory, and a file for the migration): rows, decisions, keys."""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3
import threading

import pytest

from dctenant.clients import selfservice_db
from dctenant.errors import BackendError

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
VERSION_2 = pathlib.Path(__file__).parents[2] / "data" / "selfservice" / "version-2.sql"


def _versions(path: pathlib.Path) -> tuple[list[int], str]:
    """The applied versions (ss_schema_version) and the copy older dctenant releases read (ss_meta)."""
    with sqlite3.connect(path) as conn:
        applied = [v for (v,) in conn.execute("SELECT version FROM ss_schema_version ORDER BY version")]
        (copy,) = conn.execute("SELECT value FROM ss_meta WHERE key='schema_version'").fetchone()
    conn.close()
    return applied, copy


def _schema(path: pathlib.Path) -> dict[str, object]:
    """The ss_ tables' columns (name, type, not null, default, key) and indexes' definitions.

    Columns rather than the stored CREATE text: a column added by ALTER TABLE is stored as appended
    text, while a new database's CREATE lists it among the others.
    """
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'ss_%' "
                            "AND name != 'ss_schema_version'").fetchall()
        found: dict[str, object] = {}
        for kind, name, sql in rows:
            if kind == "table":
                found[name] = sorted(tuple(c[1:]) for c in conn.execute(f"PRAGMA table_info({name})"))
            else:
                found[name] = sql
    conn.close()
    return found


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
    assert _versions(path) == ([1, 2, 3], "3")


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


def _old_database(path: pathlib.Path, *, version: str = "2") -> pathlib.Path:
    """A database file made by the code before clients.sqlstores (its dump in tests/data)."""
    with sqlite3.connect(path) as conn:
        conn.executescript(VERSION_2.read_text(encoding="utf-8"))
        conn.execute("UPDATE ss_meta SET value = ? WHERE key = 'schema_version'", (version,))
    conn.close()
    return path


def test_a_new_database_has_the_old_codes_tables_exactly(tmp_path: pathlib.Path) -> None:
    """Version 3 is version 2 (the old code's dump) and the tokens' role column: a new database and a
    migrated old one end with the same tables."""
    store = selfservice_db.Store(str(tmp_path / "new.db"))
    store.close()
    old = _schema(_old_database(tmp_path / "old.db"))
    new = _schema(tmp_path / "new.db")
    assert new == {**old, "ss_tokens": sorted([*old["ss_tokens"], ("role", "VARCHAR(16)", 0, None, 0)])}  # type: ignore[list-item]
    assert _versions(tmp_path / "new.db") == ([1, 2, 3], "3")
    selfservice_db.Store(str(tmp_path / "old.db")).close()
    assert _schema(tmp_path / "old.db") == new


def test_a_version_2_database_of_the_old_code_is_adopted_with_its_rows(tmp_path: pathlib.Path) -> None:
    path = _old_database(tmp_path / "old.db")
    store = selfservice_db.Store(str(path))
    with store.transaction(tenant="bale") as tx:
        (token,) = tx.tokens()
        assert (token.id, token.tenant, token.digest) == ("t1", "bale", selfservice_db.digest(salt="s", secret="x"))
        (namespace,) = tx.namespaces(tenant="bale")
        assert (namespace.name, namespace.quota, namespace.state) == ("bale-a", {"cpu": "4"}, "active")
        (request,) = tx.requests()
        assert (request.mode, request.before, request.result) == ("add", {"cpu": "12"}, {"cpu": "20"})
        second = tx.add_request(tenant="bale", pool="lab", demand={"cpu": "1"}, reason="r", at=NOW, by="t1")
        assert second == 2
    store.close()
    assert _versions(path) == ([1, 2, 3], "3")
    # Opening it again changes nothing: the versions are recorded once.
    selfservice_db.Store(str(path)).close()
    assert _versions(path) == ([1, 2, 3], "3")


def test_a_database_newer_than_this_code_is_refused_and_left_alone(tmp_path: pathlib.Path) -> None:
    path = _old_database(tmp_path / "newer.db", version="4")
    with pytest.raises(BackendError, match="schema version 4, newer than this dctenant knows \\(3\\)"):
        selfservice_db.Store(str(path))
    with sqlite3.connect(path) as conn:  # the refusal rolled back: no version table was left behind
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ss_schema_version'").fetchone() == (0,)
    conn.close()


def test_a_write_transaction_takes_the_lock_at_begin_and_a_read_does_not(tmp_path: pathlib.Path) -> None:
    store = selfservice_db.Store(str(tmp_path / "ss.db"))
    other = sqlite3.connect(tmp_path / "ss.db", timeout=0, isolation_level=None)
    try:
        with store.read():
            other.execute("BEGIN IMMEDIATE")  # a reader holds no write lock
            other.execute("ROLLBACK")
        with store.transaction(tenant="bale"), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")  # nothing written yet, but the lock is already taken
    finally:
        other.close()
        store.close()


def test_an_in_memory_store_is_one_database_for_every_thread() -> None:
    store = selfservice_db.Store("sqlite://")
    with store.transaction(tenant="bale") as tx:
        tx.add_request(tenant="bale", pool="lab", demand={"cpu": "8"}, reason="r", at=NOW, by="t")
    seen: list[int] = []

    def read() -> None:
        with store.read() as tx:
            seen.extend(r.id for r in tx.requests())

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == [1]
    store.close()
