"""The shared engine rules of clients.sqlstores that the ledger's and the self-service store's tests do not reach."""

from __future__ import annotations

from dctenant.clients import sqlstores


def test_a_postgresql_pool_is_sized_only_when_asked() -> None:
    # No connection is made: SQLAlchemy connects at the first checkout. The overflow and pre-ping
    # settings have no public accessor; QueuePool keeps them in these attributes.
    served = sqlstores.create_engine("postgresql://dctenant@127.0.0.1:9/ledger", pool_size=20, max_overflow=40)
    assert (served.pool.size(), served.pool._max_overflow, served.pool._pre_ping) == (20, 40, True)  # type: ignore[attr-defined]
    plain = sqlstores.create_engine("postgresql://dctenant@127.0.0.1:9/ledger")
    assert (plain.pool.size(), plain.pool._max_overflow, plain.pool._pre_ping) == (5, 10, False)  # type: ignore[attr-defined]


def test_an_in_memory_sqlite_database_is_shared_and_a_file_is_not_pinned(tmp_path: object) -> None:
    import sqlalchemy as sa

    memory = sqlstores.create_engine("sqlite://")
    with memory.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    with memory.connect() as conn:  # another checkout: the same database, so the table is there
        assert sa.inspect(conn).has_table("t")
    assert isinstance(memory.pool, sa.pool.StaticPool)
    assert not isinstance(sqlstores.create_engine(f"{tmp_path}/f.db").pool, sa.pool.StaticPool)
