"""Tampering and concurrency cases shared by the SQLite tests and the PostgreSQL integration test.

Each case fills a ledger with ten events, tampers with the database directly (as someone with
write access to it could), and checks that ``verify`` names the first bad event and what
happened to it. The same code runs against both databases, so both are held to the same rules.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dctenant.clients import ledger_db, signing
from dctenant.domain import audit_events, checkpoints
from dctenant.engine import chaining, merkle

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
    """Cutting events off the end leaves a valid chain; the hash an earlier report recorded shows it.

    With the event's number (a report records ``lastSeq``) the first missing event is named; with the
    bare hash it is not (it could also be a rewrite), and the verdict says so instead of inventing one.
    """
    events = fill(ledger)
    recorded = events[-1].hash
    run(ledger, "DELETE FROM events WHERE seq > 7")
    assert ledger.verify().intact
    report = ledger.verify(anchor=recorded, anchor_seq=10)
    assert report.breach is not None
    assert (report.breach.seq, report.breach.problem) == (8, audit_events.Problem.TRUNCATED)
    bare = ledger.verify(anchor=recorded)
    assert bare.breach is not None
    assert (bare.breach.seq, bare.breach.problem) == (None, audit_events.Problem.ANCHOR_MISSING)
    assert ledger.verify(anchor=events[6].hash).intact


def check_anchor_of_a_rewritten_chain(ledger: ledger_db.Ledger) -> None:
    """A consistent rewrite behind a report's anchor is not called a truncation at a non-existent event 11."""
    events = fill(ledger)
    rewrite_consistently(ledger, seq=4)
    report = ledger.verify(anchor=events[-1].hash, anchor_seq=10)
    assert report.breach is not None
    assert (report.breach.seq, report.breach.problem) == (None, audit_events.Problem.REWRITTEN)
    assert "event 10 no longer has the hash" in report.breach.message


# -- the tamper matrix: the same attacks on SQLite and PostgreSQL, judged by `dctenant audit verify` -----

KEY_NAME = "ndc.example/ledger"


@dataclass(frozen=True, kw_only=True)
class Expected:
    """What verify must say about a case: the problem, the exit code and the first event that differs."""

    problem: str | None  # None: intact
    exit_code: int
    seq: int | None


@dataclass
class Setting:
    """A ledger of ten events, each append signed by a writer holding the log key, and the evidence kept outside.

    ``checkpoint_file`` is the checkpoint of all ten events, as a report issued then embeds it and as
    the witness cosigned it; ``older`` is every table's rows when the ledger held seven events (a backup).
    """

    url: str
    directory: pathlib.Path
    signer: signing.Signer
    public_file: str
    checkpoint_file: str
    older: dict[str, list[dict[str, Any]]]


TABLES = ("events", "merkle_nodes", "checkpoints")


def dump(ledger: ledger_db.Ledger) -> dict[str, list[dict[str, Any]]]:
    with ledger.engine.connect() as conn:
        return {t: [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {t}")).mappings()] for t in TABLES}


def restore(ledger: ledger_db.Ledger, rows: dict[str, list[dict[str, Any]]]) -> None:
    with ledger.engine.begin() as conn:
        for table in TABLES:
            conn.execute(sa.text(f"DELETE FROM {table}"))
            if rows[table]:
                columns = list(rows[table][0])
                conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                     f"({', '.join(':' + c for c in columns)})"), rows[table])


def setting(url: str, directory: pathlib.Path) -> Setting:
    signer = signing.generate(name=KEY_NAME)
    public_file = directory / "audit.pub"
    signing.write_public(public_file, signer.verifier)
    ledger = ledger_db.open_ledger(url, signer=signer)
    try:
        fill(ledger, 7)
        older = dump(ledger)
        for i in range(8, 11):
            ledger.append(kind=audit_events.QUOTA_CHANGED, actor="ops@ndc", subject={"tenant": f"t{i % 3}"},
                          after={"cpu": str(i)}, reason=f"change {i}", at=T0 + dt.timedelta(minutes=i))
        note = checkpoints.parse_note(ledger.stored_checkpoints()[-1][1])
    finally:
        ledger.close()
    checkpoint_file = directory / "checkpoint-10.txt"
    checkpoint_file.write_text(note.text(), encoding="utf-8")
    return Setting(url=url, directory=directory, signer=signer, public_file=str(public_file),
                   checkpoint_file=str(checkpoint_file), older=older)


def rebuild_tree(ledger: ledger_db.Ledger) -> None:
    """What a careful attacker does after changing events: recompute every Merkle node from the events."""
    with ledger.engine.connect() as conn:
        hashes = [str(h) for (h,) in conn.execute(sa.text("SELECT hash FROM events ORDER BY seq"))]
    nodes = merkle.new_nodes(0, [ledger_db.event_leaf(h) for h in hashes], {})
    run(ledger, "DELETE FROM merkle_nodes")
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO merkle_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
                     [{"l": lv, "i": ix, "h": h.hex()} for (lv, ix), h in nodes.items()])


def rewrite_consistently(ledger: ledger_db.Ledger, *, seq: int) -> None:
    """Change event ``seq``, re-hash the chain after it, rebuild the tree, and drop the checkpoints that
    would betray it (the attacker cannot sign new ones)."""
    with ledger.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.text("SELECT * FROM events WHERE seq >= :s ORDER BY seq"),
                                              {"s": seq}).mappings()]
    prev = rows[0]["prev_hash"]
    # Clear the unique hashes first: the new chain is written over the old one.
    run(ledger, "UPDATE events SET prev_hash = 'x' || seq, hash = 'y' || seq WHERE seq >= :s", s=seq)
    for data in rows:
        if data["seq"] == seq:
            data["after"] = '{"cpu":"999"}'
        data["prev_hash"] = prev
        data["hash"] = prev = rehash(data)
        run(ledger, "UPDATE events SET after = :a, prev_hash = :p, hash = :h WHERE seq = :s", a=data["after"],
            p=data["prev_hash"], h=data["hash"], s=data["seq"])
    rebuild_tree(ledger)
    run(ledger, "DELETE FROM checkpoints WHERE size >= :s", s=seq)


def truncate(ledger: ledger_db.Ledger) -> None:
    run(ledger, "DELETE FROM events WHERE seq > 7")
    run(ledger, "DELETE FROM checkpoints WHERE size > 7")
    rebuild_tree(ledger)


def forged_append(url: str) -> None:
    """An event appended with every hash and tree node right, by someone without the log key."""
    keyless = ledger_db.open_ledger(url, signer=None)
    try:
        keyless.append(kind=audit_events.ACTION_UNDONE, actor="dctenant-enforcer", subject={"tenant": "t1"},
                       reason="forged: nothing was undone", at=T0 + dt.timedelta(minutes=11))
    finally:
        keyless.close()


MATRIX: dict[str, tuple[Callable[[ledger_db.Ledger, Setting], None], Expected]] = {
    "edit": (lambda ledger, _: edit(ledger), Expected(problem="edited", exit_code=1, seq=4)),
    "delete in the middle": (lambda ledger, _: delete(ledger), Expected(problem="deleted", exit_code=1, seq=4)),
    "truncate": (lambda ledger, _: truncate(ledger), Expected(problem="truncated", exit_code=1, seq=8)),
    "reorder": (lambda ledger, _: reorder(ledger), Expected(problem="reordered", exit_code=1, seq=5)),
    "forged append": (lambda _, s: forged_append(s.url), Expected(problem="unsigned", exit_code=1, seq=11)),
    "consistent rewrite": (lambda ledger, _: rewrite_consistently(ledger, seq=4),
                           Expected(problem="rewritten", exit_code=1, seq=4)),
    "rollback to an older copy": (lambda ledger, s: restore(ledger, s.older),
                                  Expected(problem="truncated", exit_code=1, seq=8)),
    "untouched": (lambda ledger, _: None, Expected(problem=None, exit_code=0, seq=None)),
}


def dctenant(*args: str) -> Any:
    """Run the CLI through its real entry point (``main``: the error boundary that sets the exit codes)."""
    import click
    from click.testing import CliRunner

    from dctenant.cli.main import main

    return CliRunner().invoke(click.Command("dctenant", callback=lambda: main(list(args))), [])


def judge(s: Setting) -> tuple[str | None, int, int | None]:
    """Run `dctenant audit verify` as an auditor would: the report's checkpoint and the log's public key."""
    result = dctenant("audit", "verify", "--ledger", s.url, "--checkpoint", s.checkpoint_file,
                      "--public-key", s.public_file, "-o", "json")
    data = json.loads(result.stdout)
    breach = data.get("breach")
    return (breach["problem"] if breach else None), result.exit_code, (breach["seq"] if breach else None)


def check_matrix_case(s: Setting, name: str) -> tuple[str | None, int, int | None]:
    tamper, expected = MATRIX[name]
    assert judge(s) == (None, 0, None), "the ledger must verify before it is tampered with"
    ledger = ledger_db.open_ledger(s.url, signer=None)
    try:
        tamper(ledger, s)
    finally:
        ledger.close()
    got = judge(s)
    assert got == (expected.problem, expected.exit_code, expected.seq), (name, got)
    return got


def check_fork_shown_to_witness(s: Setting, witness_dir: pathlib.Path) -> tuple[str, int, int | None]:
    """The key holder rewrites event 4, re-signs, and asks the witness to cosign: refused as a fork.

    Then the witness's own cosigned checkpoint, given to verify, names event 4.
    """
    invoke = dctenant
    assert invoke("audit", "witness", "init", "--state", str(witness_dir), "--name", "regulator.example/witness",
                  "--log-key", s.public_file).exit_code == 0
    first = s.directory / "request-0.txt"
    assert invoke("audit", "prove", "--ledger", s.url, "--since-size", "0", "--out", str(first)).exit_code == 0
    cosigned = s.directory / "cosigned-10.txt"
    done = invoke("audit", "witness", "cosign", str(first), "--state", str(witness_dir), "--out", str(cosigned))
    assert done.exit_code == 0, done.stderr
    ledger = ledger_db.open_ledger(s.url, signer=s.signer)
    try:
        rewrite_consistently(ledger, seq=4)
        ledger.append(kind=audit_events.QUOTA_CHANGED, actor="ops@ndc", subject={"tenant": "t0"}, reason="after")
        ledger.sign_head(s.signer)
    finally:
        ledger.close()
    request = s.directory / "request-10.txt"
    assert invoke("audit", "prove", "--ledger", s.url, "--since-size", "10", "--out", str(request)).exit_code == 0
    refused = invoke("audit", "witness", "cosign", str(request), "--state", str(witness_dir))
    assert refused.exit_code == 1 and "fork refused" in refused.stderr, refused.stderr
    shown = invoke("audit", "witness", "show", "--state", str(witness_dir), "-o", "json")
    assert json.loads(shown.stdout)["treeSize"] == 10  # the witness kept what it had signed
    result = invoke("audit", "verify", "--ledger", s.url, "--checkpoint", str(cosigned), "--public-key",
                    s.public_file, "-o", "json")
    breach = json.loads(result.stdout)["breach"]
    assert (breach["problem"], result.exit_code, breach["seq"]) == ("rewritten", 1, 4), breach
    return "fork refused", refused.exit_code, breach["seq"]


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
