"""Tampering and concurrency cases shared by the SQLite tests and the PostgreSQL integration test.

Each case fills a ledger with ten events, tampers with the database directly (as someone with
write access to it could), and checks that ``verify`` names the first bad event and what
happened to it. The same code runs against both databases, so both are held to the same rules.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from dctenant.clients import ledger_db
from dctenant.domain import audit_events
from dctenant.engine import chaining

T0 = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


def fill(ledger: ledger_db.Ledger, n: int = 10) -> list[audit_events.LedgerEvent]:
    return [ledger.append(kind=audit_events.QUOTA_CHANGED, actor="ops@ndc", subject={"tenant": f"t{i % 3}",
                                                                                     "pool": "thr-ab"},
                          before={"cpu": str(i)}, after={"cpu": str(i + 1)}, reason=f"change {i}",
                          at=T0 + dt.timedelta(minutes=i))
            for i in range(1, n + 1)]


def run(ledger: ledger_db.Ledger, sql: str, **params: Any) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def row(ledger: ledger_db.Ledger, seq: int) -> dict[str, Any]:
    with ledger.engine.connect() as conn:
        found = conn.execute(sa.text("SELECT * FROM events WHERE seq = :s"), {"s": seq}).mappings().one()
    return dict(found)


def rehash(data: dict[str, Any]) -> str:
    return chaining.event_hash(seq=data["seq"], at=data["at"], kind=data["kind"], actor=data["actor"],
                               subject=data["subject"], before=data["before"], after=data["after"],
                               reason=data["reason"], prev=data["prev_hash"])


def edit(ledger: ledger_db.Ledger) -> None:
    run(ledger, "UPDATE events SET reason = 'nothing happened' WHERE seq = 4")


def edit_and_rehash(ledger: ledger_db.Ledger) -> None:
    data = row(ledger, 4)
    data["after"] = '{"cpu":"999"}'
    run(ledger, "UPDATE events SET after = :a, hash = :h WHERE seq = 4", a=data["after"], h=rehash(data))


def delete(ledger: ledger_db.Ledger) -> None:
    run(ledger, "DELETE FROM events WHERE seq = 4")


def delete_and_renumber(ledger: ledger_db.Ledger) -> None:
    run(ledger, "DELETE FROM events WHERE seq = 4")
    for seq in range(5, 11):
        run(ledger, "UPDATE events SET seq = :n WHERE seq = :s", n=seq - 1, s=seq)


def insert(ledger: ledger_db.Ledger) -> None:
    """A forged event between 3 and 4, correctly hashed and linked to 3; later events renumbered.

    The unique ``prev_hash`` refuses a second event linked to 3, so the forger first copies the
    table without its constraints (as anyone with write access can): the chain must still tell.
    """
    run(ledger, "CREATE TABLE loose AS SELECT * FROM events")
    run(ledger, "DROP TABLE events")
    run(ledger, "ALTER TABLE loose RENAME TO events")
    for seq in range(10, 3, -1):
        run(ledger, "UPDATE events SET seq = :n WHERE seq = :s", n=seq + 1, s=seq)
    data = row(ledger, 3)
    forged = {**data, "seq": 4, "reason": "forged", "prev_hash": data["hash"]}
    forged["hash"] = rehash(forged)
    run(ledger, "INSERT INTO events (seq, at, kind, actor, subject, before, after, reason, prev_hash, hash) "
                "VALUES (:seq, :at, :kind, :actor, :subject, :before, :after, :reason, :prev_hash, :hash)", **forged)


def reorder(ledger: ledger_db.Ledger) -> None:
    run(ledger, "UPDATE events SET seq = 1000 WHERE seq = 5")
    run(ledger, "UPDATE events SET seq = 5 WHERE seq = 6")
    run(ledger, "UPDATE events SET seq = 6 WHERE seq = 1000")


def delete_first(ledger: ledger_db.Ledger) -> None:
    run(ledger, "DELETE FROM events WHERE seq = 1")


CASES: dict[str, tuple[Callable[[ledger_db.Ledger], None], int, audit_events.Problem]] = {
    "edit": (edit, 4, audit_events.Problem.EDITED),
    "edit-and-rehash": (edit_and_rehash, 4, audit_events.Problem.EDITED),
    "delete": (delete, 4, audit_events.Problem.DELETED),
    "delete-and-renumber": (delete_and_renumber, 4, audit_events.Problem.DELETED),
    "insert": (insert, 4, audit_events.Problem.INSERTED),
    "reorder": (reorder, 5, audit_events.Problem.REORDERED),
    "delete-first": (delete_first, 1, audit_events.Problem.DELETED),
}


def check_case(ledger: ledger_db.Ledger, name: str) -> None:
    fill(ledger)
    assert ledger.verify().intact
    tamper, seq, problem = CASES[name]
    tamper(ledger)
    report = ledger.verify()
    assert report.breach is not None, name
    assert (report.breach.seq, report.breach.problem) == (seq, problem), report.breach


def check_truncation(ledger: ledger_db.Ledger) -> None:
    """Cutting events off the end leaves a valid chain; only the hash an earlier report recorded shows it."""
    events = fill(ledger)
    recorded = events[-1].hash
    run(ledger, "DELETE FROM events WHERE seq > 7")
    assert ledger.verify().intact
    report = ledger.verify(anchor=recorded)
    assert report.breach is not None
    assert (report.breach.seq, report.breach.problem) == (8, audit_events.Problem.TRUNCATED)
    assert ledger.verify(anchor=events[6].hash).intact


def _writer(url: str, worker: int, count: int) -> None:
    ledger = ledger_db.open_ledger(url)
    try:
        for i in range(count):
            ledger.append(kind=audit_events.ENFORCEMENT_DECISION, actor=f"worker-{worker}",
                          subject={"tenant": f"t{worker}"}, after={"i": i})
    finally:
        ledger.close()


def check_concurrent_writers(url: str, *, workers: int = 6, count: int = 40) -> None:
    """Parallel processes append at once; the chain stays one line with every event in it."""
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_writer, args=(url, w, count)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ledger = ledger_db.open_ledger(url)
    try:
        report = ledger.verify()
        assert report.intact, report.summary()
        assert report.events == workers * count
        for w in range(workers):
            mine = [e.after["i"] for e in ledger.events(tenant=f"t{w}")]
            assert mine == list(range(count))
    finally:
        ledger.close()
