"""The ledger on a real PostgreSQL: the same tampering and concurrency cases as on SQLite."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from dctenant.clients import ledger_db, snapshot_db
from dctenant.domain import audit_events
from dctenant.errors import BackendError
from tests.integration import postgres_server
from tests.unit.clients import chain_cases

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with postgres_server.running() as url:
        yield url


@pytest.fixture
def database(server: str) -> Iterator[str]:
    """A fresh database per test on the shared server."""
    name = "t" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = server.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def ledger(database: str) -> Iterator[ledger_db.Ledger]:
    opened = ledger_db.open_ledger(database)
    yield opened
    opened.close()


def test_append_query_and_verify(ledger: ledger_db.Ledger) -> None:
    assert ledger.dialect == "postgresql"
    events = chain_cases.fill(ledger)
    assert list(ledger.events()) == events
    assert [e.seq for e in ledger.events(tenant="t2")] == [2, 5, 8]
    assert ledger.verify().summary() == "10 events, chain intact"
    assert ledger.schema_version() == ledger_db.SCHEMA_VERSION
    assert ledger.last_hash() == events[-1].hash


def test_unicode_subjects(ledger: ledger_db.Ledger) -> None:
    ledger.append(kind=audit_events.LICENCE_CHANGED, actor="ops", subject={"tenant": "بله"}, reason="تمدید")
    (event,) = ledger.events(tenant="بله")
    assert event.reason == "تمدید" and ledger.verify().intact


@pytest.mark.parametrize("case", sorted(chain_cases.CASES))
def test_tampering_is_found(ledger: ledger_db.Ledger, case: str) -> None:
    chain_cases.check_case(ledger, case)


def test_truncation_is_found_with_a_recorded_hash(ledger: ledger_db.Ledger) -> None:
    chain_cases.check_truncation(ledger)


@pytest.mark.parametrize("case", list(chain_cases.MATRIX))
def test_tamper_matrix(database: str, tmp_path: pathlib.Path, case: str) -> None:
    setting = chain_cases.setting(database, tmp_path)
    chain_cases.check_matrix_case(setting, case)


def test_a_fork_shown_to_the_witness_is_refused(database: str, tmp_path: pathlib.Path) -> None:
    setting = chain_cases.setting(database, tmp_path)
    chain_cases.check_fork_shown_to_witness(setting, tmp_path / "witness")


def test_an_anchor_behind_a_rewrite_names_no_phantom_event(ledger: ledger_db.Ledger) -> None:
    chain_cases.check_anchor_of_a_rewritten_chain(ledger)


def test_read_only_sessions_cannot_write(database: str) -> None:
    writer = ledger_db.open_ledger(database, signer=None)
    chain_cases.fill(writer, 2)
    writer.close()
    reader = ledger_db.open_ledger(database, read_only=True)
    try:
        assert reader.verify().events == 2
        with pytest.raises(BackendError, match="read-only transaction"):
            reader.append(kind=audit_events.QUOTA_CHANGED, actor="a", subject={})
    finally:
        reader.close()


def test_concurrent_writers_never_fork_the_chain(database: str) -> None:
    chain_cases.check_concurrent_writers(database, workers=8, count=40)


def test_concurrent_first_opens_migrate_once(database: str) -> None:
    chain_cases.check_concurrent_writers(database, workers=4, count=1)
    ledger = ledger_db.open_ledger(database)
    with ledger.engine.connect() as conn:
        assert [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_version ORDER BY 1"))] == [1, 2, 3]
    ledger.close()


def test_snapshots_round_trip(ledger: ledger_db.Ledger) -> None:
    from dctenant.domain import periods, snapshots

    rows = [snapshots.Rollup(tenant="bale", pool="thr-ab", resource="cpu", stat=s, value=v)
            for s, v in (("avg", "1.5"), ("max", "3"))]
    store = snapshot_db.open_snapshots(ledger)
    old, first = store.take(period=periods.parse("2026-10"), rollups=rows, source="s", actor="a", at=chain_cases.T0)
    new, again = store.take(period=periods.parse("2026-10"), rollups=rows[:1], source="s", actor="a",
                            at=chain_cases.T0)
    assert (first.kind, again.kind) == ("snapshot-taken", "snapshot-replaced")
    assert store.rollups(snapshot=new.id) == tuple(rows[:1]) and store.rollups(snapshot=old.id) == tuple(rows)
    assert [(i.version, i.rows) for i in store.infos()] == [(1, 2), (2, 1)] and ledger.verify().intact
