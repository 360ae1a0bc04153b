"""``dctenant audit`` end to end on SQLite: keys, checkpoints, proofs, the witness, reports and verify's UX.

Everything runs through the CLI's real entry point, so exit codes are those a user sees.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pathlib

import pytest

from dctenant.clients import ledger_db, signing
from dctenant.domain import checkpoints
from dctenant.ops import auditing
from tests.unit.clients import chain_cases

dctenant = chain_cases.dctenant


@pytest.fixture
def keyed(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A user with a log key in the default place (made by `audit keygen`) and a ledger of ten events."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in (signing.KEY_ENV, signing.KEY_FILE_ENV, signing.PUBLIC_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    made = dctenant("audit", "keygen", "--origin", "ndc.example/ledger", "-o", "json")
    assert made.exit_code == 0, made.output
    ledger = ledger_db.open_ledger(str(tmp_path / "l.db"))
    chain_cases.fill(ledger, 10)
    ledger.close()
    return tmp_path


def _naive_root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _naive_root(leaves[:k]) + _naive_root(leaves[k:])).digest()


def test_every_append_is_signed_and_the_key_never_enters_the_database(keyed: pathlib.Path) -> None:
    key_file = keyed / "config" / "dctenant" / "audit.key"
    secret = key_file.read_text().strip().split("+", 4)[4]  # base64 may itself hold "+"
    ledger = ledger_db.open_ledger(str(keyed / "l.db"))
    assert [size for size, _ in ledger.stored_checkpoints()] == list(range(1, 11))
    ledger.close()
    raw = b"".join(p.read_bytes() for p in keyed.glob("l.db*"))
    seed = base64.b64decode(secret)[1:]
    assert b"PRIVATE+KEY" not in raw and secret.encode() not in raw and seed not in raw
    result = dctenant("audit", "verify", "--ledger", str(keyed / "l.db"))
    assert (result.exit_code, result.stdout.strip()) == (0, "10 events, chain intact; tree consistent with 1 "
                                                             "signed checkpoint(s)")


def test_checkpoint_and_inclusion_proof(keyed: pathlib.Path) -> None:
    out = keyed / "cp.txt"
    made = dctenant("audit", "checkpoint", "--ledger", str(keyed / "l.db"), "--out", str(out))
    assert made.exit_code == 0 and made.stdout == out.read_text()
    note = checkpoints.parse_note(out.read_text())
    ledger = ledger_db.open_ledger(str(keyed / "l.db"), read_only=True)
    events = list(ledger.events())
    ledger.close()
    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(e.hash)).digest() for e in events]
    assert note.checkpoint.size == 10 and note.checkpoint.root == _naive_root(leaves)
    proved = dctenant("audit", "prove", "--ledger", str(keyed / "l.db"), "--event", "6", "--checkpoint", str(out),
                      "-o", "json")
    data = json.loads(proved.stdout)
    assert (data["event"], data["leafIndex"], data["treeSize"]) == (6, 5, 10)
    # RFC 6962 PATH(5, D[0:10]) by hand: leaf 4, then leaves 6..7, then 0..3, then 8..9.
    expected = [leaves[4], _naive_root(leaves[6:8]), _naive_root(leaves[0:4]), _naive_root(leaves[8:10])]
    assert [base64.b64decode(p) for p in data["proof"]] == expected
    too_new = dctenant("audit", "prove", "--ledger", str(keyed / "l.db"), "--event", "11")
    assert too_new.exit_code == 1 and "no event 11" in too_new.stderr


def test_a_report_embeds_its_checkpoint_and_holds_the_ledger_to_it(keyed: pathlib.Path) -> None:
    ledger = ledger_db.open_ledger(str(keyed / "l.db"))
    source = auditing.report_source(ledger)
    assert source.detail.startswith("events 1..10 of ndc.example/ledger (tree size 10, root ")
    assert "not the report-issued event recorded after it" in source.detail.split("\n")[0]
    report = {"ledger": {"lastHash": ledger.last_hash(), "lastSeq": 10},
              "sources": [{"name": source.name, "detail": source.detail}]}
    (keyed / "report.json").write_text(json.dumps(report))
    assert dctenant("audit", "verify", "--ledger", str(keyed / "l.db"), "--report",
                    str(keyed / "report.json")).exit_code == 0
    chain_cases.rewrite_consistently(ledger, seq=6)
    ledger.close()
    result = dctenant("audit", "verify", "--ledger", str(keyed / "l.db"), "--report", str(keyed / "report.json"),
                      "-o", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["breach"]["problem"] == "rewritten"
    assert json.loads(result.stdout)["breach"]["seq"] == 6


def test_verify_usage_errors_and_one_line_failures(keyed: pathlib.Path) -> None:
    db = str(keyed / "l.db")
    bad_anchor = dctenant("audit", "verify", "--ledger", db, "--anchor", "deadbeef")
    assert bad_anchor.exit_code == 2 and "expected 64 hexadecimal digits" in bad_anchor.stderr
    (keyed / "junk.txt").write_text("ndc.example/ledger\n10\n")
    bad_cp = dctenant("audit", "verify", "--ledger", db, "--checkpoint", str(keyed / "junk.txt"))
    assert bad_cp.exit_code == 2 and "expected a C2SP signed note" in bad_cp.stderr
    (keyed / "r.json").write_text("{}")
    bad_report = dctenant("audit", "verify", "--ledger", db, "--report", str(keyed / "r.json"))
    assert bad_report.exit_code == 2 and "dctenant report ... --output json" in bad_report.stderr
    missing = dctenant("audit", "verify", "--ledger", str(keyed / "nope.db"))
    assert missing.exit_code == 1 and not (keyed / "nope.db").exists()
    assert missing.stderr.count("\n") == 1 and "no ledger at" in missing.stderr
    (keyed / "text.db").write_text("hello\n" * 200)
    not_db = dctenant("audit", "log", "--ledger", str(keyed / "text.db"))
    assert not_db.exit_code == 1 and not_db.stderr.count("\n") == 1
    assert "is not a dctenant database" in not_db.stderr and "Traceback" not in not_db.output


def test_the_witness_refuses_rollback_and_foreign_checkpoints(keyed: pathlib.Path) -> None:
    db, witness = str(keyed / "l.db"), str(keyed / "witness")
    public = str(keyed / "config" / "dctenant" / "audit.pub")
    assert dctenant("audit", "witness", "init", "--state", witness, "--name", "regulator.example/witness",
                    "--log-key", public).exit_code == 0
    again = dctenant("audit", "witness", "init", "--state", witness, "--name", "w", "--log-key", public)
    assert again.exit_code == 1 and "never reset" in again.stderr
    assert dctenant("audit", "prove", "--ledger", db, "--since-size", "0", "--out", str(keyed / "r0")).exit_code == 0
    assert dctenant("audit", "witness", "cosign", str(keyed / "r0"), "--state", witness).exit_code == 0
    # A rollback: a correctly signed checkpoint of fewer events than the witness signed.
    signer = signing.read_private(keyed / "config" / "dctenant" / "audit.key")
    ledger = ledger_db.open_ledger(db, read_only=True)
    older = signer.sign(checkpoints.Checkpoint(origin=signer.name, size=7, root=ledger.tree_root(7)))
    ledger.close()
    (keyed / "r7").write_text(checkpoints.WitnessRequest(old_size=10, proof=(), checkpoint=older).text())
    refused = dctenant("audit", "witness", "cosign", str(keyed / "r7"), "--state", witness)
    assert refused.exit_code == 1 and "rollback refused" in refused.stderr and "events 8..10 are gone" in refused.stderr
    # A checkpoint signed by some other key.
    stranger = signing.generate(name=signer.name)
    forged = stranger.sign(checkpoints.Checkpoint(origin=signer.name, size=10, root=older.checkpoint.root))
    (keyed / "rf").write_text(checkpoints.WitnessRequest(old_size=10, proof=(), checkpoint=forged).text())
    foreign = dctenant("audit", "witness", "cosign", str(keyed / "rf"), "--state", witness)
    assert foreign.exit_code == 1 and "not signed by the log key" in foreign.stderr
    (keyed / "junk").write_text("hello")
    assert dctenant("audit", "witness", "cosign", str(keyed / "junk"), "--state", witness).exit_code == 2
    shown = json.loads(dctenant("audit", "witness", "show", "--state", witness, "-o", "json").stdout)
    assert shown["treeSize"] == 10


def test_a_rewrite_is_located_by_the_stored_checkpoints_left_behind(keyed: pathlib.Path) -> None:
    """An attacker who leaves the stored checkpoints: bisection over them names the event exactly."""
    ledger = ledger_db.open_ledger(str(keyed / "l.db"), signer=None)
    with ledger.engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT size, root, note, signed_at FROM checkpoints").all()
    chain_cases.rewrite_consistently(ledger, seq=7)
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM checkpoints")
        for row in kept:
            conn.exec_driver_sql("INSERT INTO checkpoints VALUES (?, ?, ?, ?)", tuple(row))
    ledger.close()
    result = dctenant("audit", "verify", "--ledger", str(keyed / "l.db"), "-o", "json")
    breach = json.loads(result.stdout)["breach"]
    assert (result.exit_code, breach["problem"], breach["seq"]) == (1, "rewritten", 7)
    assert "event 7 is the first that differs" in breach["message"]


def test_a_checkpoint_written_into_the_database_is_forged(keyed: pathlib.Path) -> None:
    stranger = signing.generate(name="ndc.example/ledger")
    ledger = ledger_db.open_ledger(str(keyed / "l.db"), signer=None)
    chain_cases.forged_append(str(keyed / "l.db"))
    note = stranger.sign(checkpoints.Checkpoint(origin="ndc.example/ledger", size=11, root=ledger.tree_root(11)))
    chain_cases.run(ledger, "INSERT INTO checkpoints VALUES (11, 'x', :n, 'now')", n=note.text())
    ledger.close()
    result = dctenant("audit", "verify", "--ledger", str(keyed / "l.db"), "-o", "json")
    breach = json.loads(result.stdout)["breach"]
    assert (result.exit_code, breach["problem"], breach["seq"]) == (1, "forged", None)
    assert "stored checkpoint of 11 events is not signed by the log key" in breach["message"]
