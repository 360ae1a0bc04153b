"""The SQLite ledger: appending, querying, migrations, tampering and concurrent writers."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import pathlib
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dctenant.clients import ledger_db, snapshot_db
from dctenant.domain import audit_events
from dctenant.errors import BackendError, UserError
from tests.unit.clients import chain_cases


@pytest.fixture
def ledger(tmp_path: pathlib.Path) -> ledger_db.Ledger:
    opened = ledger_db.open_ledger(str(tmp_path / "ledger.db"))
    yield opened  # type: ignore[misc]
    opened.close()


def test_default_location_follows_xdg_state_home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DCTENANT_LEDGER", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert ledger_db.default_url() == str(tmp_path / "state" / "dctenant" / "ledger.db")
    opened = ledger_db.open_ledger()
    try:
        opened.append(kind=audit_events.REPORT_ISSUED, actor="a", subject={})
        with opened.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        opened.close()
    assert (tmp_path / "state" / "dctenant" / "ledger.db").exists()
    monkeypatch.setenv("DCTENANT_LEDGER", "sqlite:///" + str(tmp_path / "other.db"))
    assert ledger_db.default_url().endswith("other.db")


def test_append_and_query(ledger: ledger_db.Ledger) -> None:
    events = chain_cases.fill(ledger)
    assert [e.seq for e in events] == list(range(1, 11))
    assert events[0].prev_hash == audit_events.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert ledger.last_hash() == events[-1].hash
    stored = list(ledger.events())
    assert stored == events
    assert [e.seq for e in ledger.events(tenant="t1")] == [1, 4, 7, 10]
    since = chain_cases.T0 + dt.timedelta(minutes=3)
    until = chain_cases.T0 + dt.timedelta(minutes=5)
    assert [e.seq for e in ledger.events(since=since, until=until)] == [3, 4]
    assert list(ledger.events(kinds=[audit_events.ACTION_TAKEN])) == []
    assert ledger.verify().summary() == "10 events, chain intact"


def test_values_are_stored_canonically(ledger: ledger_db.Ledger) -> None:
    event = ledger.append(kind=audit_events.LICENCE_CHANGED, actor="ops", subject={"tenant": "بله"},
                          before={"expires": dt.date(2027, 4, 11), "share": Decimal("0.50")}, after=["x", 1])
    stored = next(ledger.events())
    assert stored.before == {"expires": "2027-04-11", "share": "0.5"}
    assert stored.subject == {"tenant": "بله"} and stored.hash == event.hash
    assert [e.seq for e in ledger.events(tenant="بله")] == [1]


def test_tenant_filter_is_exact(ledger: ledger_db.Ledger) -> None:
    ledger.append(kind=audit_events.QUOTA_CHANGED, actor="a", subject={"tenant": "gap"})
    ledger.append(kind=audit_events.QUOTA_CHANGED, actor="a", subject={"tenant": "igap"})
    ledger.append(kind=audit_events.QUOTA_CHANGED, actor="a", subject={"tenant": "100%_x"})
    assert [e.seq for e in ledger.events(tenant="gap")] == [1]
    assert [e.seq for e in ledger.events(tenant="100%_x")] == [3]


def test_naive_times_and_bad_kinds_are_refused(ledger: ledger_db.Ledger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.append(kind=audit_events.QUOTA_CHANGED, actor="a", subject={}, at=dt.datetime(2026, 1, 1))
    with pytest.raises(UserError, match="kebab-case"):
        ledger.append(kind="Quota Changed", actor="a", subject={})
    assert ledger.count() == 0


def test_migrations_are_versioned_and_idempotent(tmp_path: pathlib.Path) -> None:
    url = str(tmp_path / "l.db")
    first = ledger_db.open_ledger(url)
    assert first.schema_version() == ledger_db.SCHEMA_VERSION
    first.close()
    again = ledger_db.open_ledger(url)
    with again.engine.connect() as conn:
        versions = [r[0] for r in conn.execute(sa.text("SELECT version FROM schema_version ORDER BY version"))]
    assert versions == [1, 2, 3]
    chain_cases.run(again, "INSERT INTO schema_version VALUES (99, 'x')")
    again.close()
    with pytest.raises(BackendError, match="schema version 99"):
        ledger_db.open_ledger(url)


def test_an_older_schema_is_migrated_and_its_tree_built(tmp_path: pathlib.Path) -> None:
    url = str(tmp_path / "l.db")
    opened = ledger_db.open_ledger(url, signer=None)
    events = chain_cases.fill(opened, 3)
    for table in ("snapshots", "snapshot_periods", "merkle_nodes", "checkpoints"):
        chain_cases.run(opened, f"DROP TABLE {table}")
    chain_cases.run(opened, "DELETE FROM schema_version WHERE version >= 2")
    opened.close()
    with pytest.raises(BackendError, match="schema version 1, this dctenant reads 3"):
        ledger_db.open_ledger(url, read_only=True)
    reopened = ledger_db.open_ledger(url, signer=None)
    assert reopened.schema_version() == 3
    assert snapshot_db.open_snapshots(reopened).infos() == ()
    assert reopened.verify().events == 3
    # The tree built for the events already there is the RFC 6962 tree of their leaves, computed here by hand.
    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(e.hash)).digest() for e in events]
    left = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    assert reopened.tree_root(3) == hashlib.sha256(b"\x01" + left + leaves[2]).digest()
    reopened.close()


def test_the_snapshot_schema_is_versioned_once_and_a_newer_one_refused(tmp_path: pathlib.Path) -> None:
    url = str(tmp_path / "l.db")
    opened = ledger_db.open_ledger(url, signer=None)
    snapshot_db.open_snapshots(opened)
    snapshot_db.open_snapshots(opened)  # opening again records nothing more
    with opened.engine.connect() as conn:
        versions = [r[0] for r in conn.execute(sa.text("SELECT version FROM snapshot_schema_version"))]
    assert versions == [1]
    chain_cases.run(opened, "INSERT INTO snapshot_schema_version VALUES (2, 'x')")
    with pytest.raises(BackendError, match=r"l\.db \(snapshots\) has schema version 2, newer than this dctenant "
                                           r"knows \(1\); upgrade dctenant"):
        snapshot_db.open_snapshots(opened)
    opened.close()


def test_read_only_opens_never_create_and_refuse_non_databases(tmp_path: pathlib.Path) -> None:
    with pytest.raises(BackendError, match=r"no ledger at .*missing\.db: nothing to read"):
        ledger_db.open_ledger(str(tmp_path / "missing.db"), read_only=True)
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "text.db").write_text("not a database, just text\n" * 100)
    with pytest.raises(BackendError) as caught:
        ledger_db.open_ledger(str(tmp_path / "text.db"), read_only=True)
    expected = f"{tmp_path / 'text.db'} is not a dctenant database (SQLite says: file is not a database)"
    assert str(caught.value) == expected
    with pytest.raises(BackendError, match="is not a dctenant database"):
        ledger_db.open_ledger(str(tmp_path / "text.db"))
    written = ledger_db.open_ledger(str(tmp_path / "l.db"), signer=None)
    chain_cases.fill(written, 2)
    written.close()
    reader = ledger_db.open_ledger(str(tmp_path / "l.db"), read_only=True)
    assert reader.verify().events == 2
    with pytest.raises(BackendError, match="attempt to write a readonly database"):
        reader.append(kind=audit_events.QUOTA_CHANGED, actor="a", subject={})
    reader.close()


def test_an_unusable_location_is_a_backend_error(tmp_path: pathlib.Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(BackendError, match="cannot create"):
        ledger_db.open_ledger(str(tmp_path / "file" / "sub" / "l.db"))
    with pytest.raises(UserError, match="only SQLite and PostgreSQL"):
        ledger_db.open_ledger("mysql+nonexistent://x/y")


@pytest.mark.parametrize("case", sorted(chain_cases.CASES))
def test_tampering_is_found(ledger: ledger_db.Ledger, case: str) -> None:
    chain_cases.check_case(ledger, case)


def test_truncation_is_found_with_a_recorded_hash(ledger: ledger_db.Ledger) -> None:
    chain_cases.check_truncation(ledger)


def test_an_anchor_behind_a_rewrite_names_no_phantom_event(ledger: ledger_db.Ledger) -> None:
    chain_cases.check_anchor_of_a_rewritten_chain(ledger)


def test_concurrent_writers_never_fork_the_chain(tmp_path: pathlib.Path) -> None:
    chain_cases.check_concurrent_writers(str(tmp_path / "shared.db"))


def test_a_fork_is_refused_by_the_database(ledger: ledger_db.Ledger) -> None:
    chain_cases.fill(ledger, 2)
    first = chain_cases.row(ledger, 2)
    with pytest.raises(sa.exc.IntegrityError):
        chain_cases.run(ledger, "INSERT INTO events VALUES (3, :at, 'x', 'a', '{}', 'null', 'null', '', :p, 'h')",
                        at=first["at"], p=first["prev_hash"])


@pytest.mark.parametrize("case", list(chain_cases.MATRIX))
def test_tamper_matrix(tmp_path: pathlib.Path, case: str) -> None:
    setting = chain_cases.setting(str(tmp_path / "ledger.db"), tmp_path)
    chain_cases.check_matrix_case(setting, case)


def test_a_fork_shown_to_the_witness_is_refused(tmp_path: pathlib.Path) -> None:
    setting = chain_cases.setting(str(tmp_path / "ledger.db"), tmp_path)
    chain_cases.check_fork_shown_to_witness(setting, tmp_path / "witness")
