"""``dctenant audit``: verify the ledger against its signed checkpoints, prove events, read the log.

The hash chain alone shows that the events hold together, not that they are the ones that were
written: anyone with write access can rewrite an event and re-hash everything after it, or cut
events off the end. What such an insider cannot do is sign, because the log key is not in the
database. So ``verify`` recomputes the chain *and* the RFC 6962 tree over it, and holds the tree
to every signed checkpoint it can find: those stored in the ledger (signed by each writer that
holds the key, or by ``audit checkpoint``), and those the auditor brings (a file, a report, the
witness's cosigned copy). The first event that differs is named by the largest checkpoint that
still matches and the smallest that no longer does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import pathlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from dctenant.clients import files, ledger_db, signing
from dctenant.domain import audit_events, checkpoints, reports
from dctenant.engine import chaining, merkle
from dctenant.errors import BackendError, UserError

Problem = audit_events.Problem
REPORT_SOURCE = "checkpoint"  # the name of the report source that embeds the signed checkpoint


class MalformedInputError(UserError):
    """An anchor, checkpoint or report the user gave is not in the expected format (a usage error, exit 2)."""


def parse_anchor(text: str) -> str:
    """A ledger hash: 64 lowercase hex digits (SHA-256), as reports record it in ``ledger.lastHash``."""
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise MalformedInputError(f"{text!r} is not a ledger hash; expected 64 hexadecimal digits (a SHA-256, as a "
                             "report's ledger.lastHash records it)", location="--anchor")
    return value


def read_checkpoint(path: str) -> checkpoints.SignedCheckpoint:
    text = files.read_text(pathlib.Path(path))
    if text is None:
        raise UserError("no such checkpoint file", location=path)
    try:
        return checkpoints.parse_note(text)
    except checkpoints.FormatError as exc:
        raise MalformedInputError(f"not a signed checkpoint: {exc}", location=path) from None


@dataclass(frozen=True, kw_only=True)
class ReportEvidence:
    """What a JSON report recorded about the ledger: the last event it covered and its checkpoint."""

    last_hash: str | None
    last_seq: int | None
    checkpoint: checkpoints.SignedCheckpoint | None


def read_report(report_file: str) -> ReportEvidence:
    text = files.read_text(pathlib.Path(report_file))
    if text is None:
        raise UserError("no such report", location=report_file)
    try:
        data = json.loads(text)
        ledger = data["ledger"]
        last_hash = None if ledger["lastHash"] is None else parse_anchor(str(ledger["lastHash"]))
        last_seq = None if ledger.get("lastSeq") is None else int(ledger["lastSeq"])
        notes = [s["detail"] for s in data.get("sources", ()) if s.get("name") == REPORT_SOURCE]
        note = checkpoints.parse_note(notes[0].split("\n", 1)[1]) if notes and "\n" in notes[0] else None
    except (ValueError, KeyError, TypeError, AttributeError, UserError) as exc:
        raise MalformedInputError(f"not a dctenant JSON report with a ledger section ({exc}); expected the output of "
                             "`dctenant report ... --output json`", location=report_file) from None
    return ReportEvidence(last_hash=last_hash, last_seq=last_seq, checkpoint=note)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What ``audit verify`` found: events and tree checked, checkpoints held against, the first breach."""

    events: int
    root: bytes | None
    breach: audit_events.Breach | None
    checked: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        return self.breach is None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"intact": self.intact, "events": self.events,
                                "rootHash": None if self.root is None else base64.b64encode(self.root).decode(),
                                "checkpoints": list(self.checked), "notes": list(self.notes)}
        if self.breach:
            data["breach"] = {"seq": self.breach.seq, "problem": self.breach.problem.value,
                              "message": self.breach.message}
        return data

    def summary(self) -> str:
        if self.breach is None:
            held = f"; tree consistent with {len(self.checked)} signed checkpoint(s)" if self.checked else ""
            return f"{self.events} events, chain intact{held}"
        where = "" if self.breach.seq is None else f" at event {self.breach.seq}"
        return f"ledger broken{where} ({self.breach.problem.value}): {self.breach.message}"


@dataclass(frozen=True, kw_only=True)
class _Held:
    """A checkpoint whose signature verified, and where it came from (for the messages)."""

    note: checkpoints.SignedCheckpoint
    source: str

    @property
    def size(self) -> int:
        return self.note.checkpoint.size


def verify(ledger: ledger_db.Ledger, *, anchor: str | None = None, report_file: str | None = None,
           checkpoint_files: Sequence[str] = (), public_key: str | None = None) -> Verdict:
    """Check the chain, the stored tree and the signed checkpoints; name the first event that differs.

    The fast path checks every given checkpoint and the newest stored one (one signature each, one
    root computed during the walk), so a ledger signed at every append still verifies at full speed.
    Only when a checkpoint does not match does it rebuild the tree in memory and search the stored
    checkpoints for the last one that still matches (checking the signature of each it relies on).
    """
    anchor_seq = None
    given: list[tuple[checkpoints.SignedCheckpoint, str]] = [(read_checkpoint(f), f) for f in checkpoint_files]
    if report_file is not None:
        evidence = read_report(report_file)
        anchor, anchor_seq = evidence.last_hash, evidence.last_seq
        if evidence.checkpoint is not None:
            given.append((evidence.checkpoint, f"the checkpoint in {report_file}"))
    verifier = signing.configured_verifier(public_key)
    notes: list[str] = []
    if verifier is None:
        if given:
            raise UserError("a checkpoint can only be checked with the log's public key: give --public-key FILE "
                            f"(or set ${signing.PUBLIC_KEY_ENV})", location="--public-key")
        notes.append("no log public key is known: signed checkpoints were not checked, and the chain alone cannot "
                     "show that nobody rewrote it (see docs/audit.md, `dctenant audit keygen`)")
    held: list[_Held] = []
    for note, source in given:
        if verifier is None or not verifier.signed(note):
            return _broken(Problem.FORGED, None, f"{source} is not signed by the log key "
                           f"{verifier.name if verifier else '?'}: it was not issued by this log, or was altered")
        if note.checkpoint.origin != verifier.name:
            return _broken(Problem.FORGED, None, f"{source} is for the log {note.checkpoint.origin!r}, not "
                           f"{verifier.name!r}")
        held.append(_Held(note=note, source=source))
    newest = ledger.newest_checkpoint() if verifier is not None else None
    if verifier is not None and newest is not None:
        checked_newest = _stored(verifier, *newest)
        if isinstance(checked_newest, Verdict):
            return checked_newest
        held.append(checked_newest)
    tree = merkle.Builder(marks={h.size for h in held})
    chain = ledger.verify(anchor=anchor, anchor_seq=anchor_seq, tree=tree)
    checked = tuple(sorted({f"{h.source}: {h.note.checkpoint.covers}" for h in held}))
    size = chain.events

    def verdict(breach: audit_events.Breach | None, root: bytes | None) -> Verdict:
        return Verdict(events=size, root=root, breach=breach, checked=checked, notes=tuple(notes))

    if chain.breach is not None:
        # A missing anchor is found only after the whole walk; a checkpoint can then say which event differs.
        walked = chain.breach.problem in (Problem.ANCHOR_MISSING, Problem.REWRITTEN, Problem.TRUNCATED)
        mismatch = walked and _mismatched(held, tree, size)
        return verdict(_locate(ledger, verifier, held, size) if mismatch else chain.breach, None)
    root = tree.root()
    if _mismatched(held, tree, size):
        return verdict(_locate(ledger, verifier, held, size), root)
    breach = _truncated(held, size) or _stored_tree(ledger, size, root)
    if breach is None and verifier is not None:
        signed = max((h.size for h in held if h.size <= size), default=0)
        if signed < size:
            span = f"event {size} is" if signed + 1 == size else f"events {signed + 1}..{size} are"
            breach = audit_events.Breach(seq=signed + 1, problem=Problem.UNSIGNED, message=(
                f"{span} covered by no checkpoint signed with the log key {verifier.name}: appended by someone "
                "without the key (forged), or by a writer not given the key; if they are yours, sign them with "
                "`dctenant audit checkpoint` after checking them"))
    return verdict(breach, root)


def _stored(verifier: signing.Verifier, size: int, text: str) -> _Held | Verdict:
    source = f"the stored checkpoint of {size} events"
    try:
        note = checkpoints.parse_note(text)
    except checkpoints.FormatError:
        return _broken(Problem.FORGED, None, f"{source} is not a signed note")
    if note.checkpoint.size != size or not verifier.signed(note):
        return _broken(Problem.FORGED, None, f"{source} is not signed by the log key {verifier.name}: "
                       "someone wrote it into the database")
    return _Held(note=note, source=source)


def _broken(problem: Problem, seq: int | None, message: str) -> Verdict:
    return Verdict(events=0, root=None, breach=audit_events.Breach(seq=seq, problem=problem, message=message))


def _mismatched(held: Sequence[_Held], tree: merkle.Builder, size: int) -> bool:
    return any(h.size <= size and tree.marked.get(h.size, merkle.EMPTY_ROOT if h.size == 0 else b"")
               != h.note.checkpoint.root for h in held)


def _locate(ledger: ledger_db.Ledger, verifier: signing.Verifier | None, held: Sequence[_Held],
            size: int) -> audit_events.Breach:
    """The first event that differs, bounded by the last checkpoint that still matches and the first that does not.

    The tree is rebuilt in memory from the events as they are; the stored checkpoints are searched
    by bisection (every size from the first rewritten event on differs, every size before it matches),
    and the matching one the answer rests on must carry a valid signature.
    """
    built, fetch = merkle.tree_of(ledger_db.event_leaf(h) for h in ledger.event_hashes())

    def matches(cp: checkpoints.Checkpoint) -> bool:
        return cp.size <= built and merkle.root(cp.size, fetch) == cp.root

    bad = min((h for h in held if not matches(h.note.checkpoint)), key=lambda h: h.size)
    good = max((h for h in held if h.size < bad.size and matches(h.note.checkpoint)), key=lambda h: h.size,
               default=None)
    stored = [(s, t) for s, t in ledger.stored_checkpoints() if s < bad.size and (good is None or s > good.size)]
    lo, hi = 0, len(stored)  # bisect for the last stored checkpoint whose root still matches
    while lo < hi:
        mid = (lo + hi) // 2
        if matches(checkpoints.parse_note(stored[mid][1]).checkpoint):
            lo = mid + 1
        else:
            hi = mid
    if lo > 0 and verifier is not None:
        candidate = _stored(verifier, *stored[lo - 1])
        if isinstance(candidate, Verdict) and candidate.breach is not None:
            return candidate.breach
        if isinstance(candidate, _Held):
            good = candidate
    if hi < len(stored) and verifier is not None:
        candidate = _stored(verifier, *stored[hi])
        if isinstance(candidate, _Held) and candidate.size < bad.size:
            bad = candidate
    good_size = good.size if good else 0
    first = good_size + 1
    if first == bad.size:
        where = f"event {first} is the first that differs"
    else:
        where = (f"the first event that differs is among events {first}..{bad.size}: event {first} is the first "
                 "that no matching checkpoint covers")
    held_by = f"; the checkpoint of {good_size} events still matches" if good_size else ""
    return audit_events.Breach(seq=first, problem=Problem.REWRITTEN, message=(
        f"the ledger no longer matches {bad.source} ({bad.note.checkpoint.covers}){held_by}: {where}; "
        "the events were rewritten and the chain re-hashed"))


def _truncated(held: Sequence[_Held], size: int) -> audit_events.Breach | None:
    longer = [h for h in held if h.size > size]
    if not longer:
        return None
    cut = max(longer, key=lambda h: h.size)
    return audit_events.Breach(seq=size + 1, problem=Problem.TRUNCATED, message=(
        f"the ledger ends at event {size}, but {cut.source} covers {cut.note.checkpoint.covers}: events "
        f"{size + 1}..{cut.size} were cut off, or an older copy of the ledger was restored"))


def _stored_tree(ledger: ledger_db.Ledger, size: int, root: bytes) -> audit_events.Breach | None:
    """The stored Merkle tree must be the tree of the events, else proofs from it would lie."""
    try:
        stored = ledger.tree_root(size)
    except BackendError as exc:
        return audit_events.Breach(seq=None, problem=Problem.TREE, message=str(exc))
    if stored == root:
        return None
    for seq, (row, leaf) in enumerate(zip(ledger.events(), ledger.stored_leaves(), strict=False), start=1):
        if ledger_db.event_leaf(row.hash) != leaf:
            return audit_events.Breach(seq=seq, problem=Problem.TREE, message=(
                f"the stored Merkle leaf of event {seq} is not the hash of the event: the tree was altered"))
    return audit_events.Breach(seq=None, problem=Problem.TREE, message=(
        "the stored Merkle tree's interior nodes do not match the events: the tree was altered"))


# -- checkpoints, keys and proofs ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Keys:
    private: str
    public: str
    verifier: str

    def as_dict(self) -> dict[str, Any]:
        return {"privateKeyFile": self.private, "publicKeyFile": self.public, "publicKey": self.verifier}


def keygen(*, origin: str, private_file: str | None = None, kind: int = checkpoints.ED25519) -> Keys:
    """Make a key pair: the private key readable by its owner only, the public key beside it (``.pub``)."""
    try:
        signer = signing.generate(name=origin, kind=kind)
    except checkpoints.FormatError as exc:
        raise MalformedInputError(str(exc), location="--origin") from None
    private = pathlib.Path(private_file).expanduser() if private_file else signing.default_key_file()
    public = private.with_suffix(".pub")
    signing.write_private(private, signer)
    signing.write_public(public, signer.verifier)
    return Keys(private=str(private), public=str(public), verifier=signer.verifier.text())


@dataclass(frozen=True, kw_only=True)
class Signed:
    note: checkpoints.SignedCheckpoint
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        cp = self.note.checkpoint
        return {"origin": cp.origin, "treeSize": cp.size, "covers": cp.covers,
                "rootHash": base64.b64encode(cp.root).decode(), "note": self.note.text(), "file": self.path}


def checkpoint(ledger: ledger_db.Ledger, *, key_file: str | None = None, out: str | None = None) -> Signed:
    """Sign the ledger's current head with the log key, store it in the ledger, and write it to ``out``."""
    signer = signing.configured_signer(key_file)
    if signer is None:
        raise UserError(f"no log key: make one with `dctenant audit keygen`, or give --key FILE (or set "
                        f"${signing.KEY_FILE_ENV} or ${signing.KEY_ENV})", location="--key")
    if signer.kind != checkpoints.ED25519:
        raise UserError("this is a witness key (cosignature/v1); the log signs with its own Ed25519 key",
                        location=key_file or "the configured key")
    note = ledger.sign_head(signer)
    if out is not None:
        files.write_atomically(pathlib.Path(out), note.text())
    return Signed(note=note, path=out)


def latest_checkpoint(ledger: ledger_db.Ledger, *, up_to: int | None = None) -> checkpoints.SignedCheckpoint | None:
    """The stored checkpoint of the most events (of at most ``up_to`` events when given)."""
    stored = [note for size, note in ledger.stored_checkpoints() if up_to is None or size <= up_to]
    return checkpoints.parse_note(stored[-1]) if stored else None


@dataclass(frozen=True, kw_only=True)
class Inclusion:
    """An RFC 6962 inclusion proof of one event under a signed checkpoint, with what a tenant needs to check it."""

    event: audit_events.LedgerEvent
    note: checkpoints.SignedCheckpoint
    proof: tuple[bytes, ...]

    def as_dict(self) -> dict[str, Any]:
        b64 = base64.b64encode
        return {"event": self.event.seq, "eventHash": self.event.hash, "leafIndex": self.event.seq - 1,
                "leafHash": b64(ledger_db.event_leaf(self.event.hash)).decode(),
                "treeSize": self.note.checkpoint.size, "rootHash": b64(self.note.checkpoint.root).decode(),
                "proof": [b64(p).decode() for p in self.proof], "checkpoint": self.note.text()}


def prove(ledger: ledger_db.Ledger, *, event: int, checkpoint_file: str | None = None,
          public_key: str | None = None) -> Inclusion:
    """The inclusion proof of event ``event`` in the given checkpoint's tree, or the newest stored one."""
    found = ledger.event(event)
    if found is None:
        raise UserError(f"the ledger has no event {event}", location="--event")
    if checkpoint_file is not None:
        note = read_checkpoint(checkpoint_file)
        verifier = signing.configured_verifier(public_key)
        if verifier is None or not verifier.signed(note):
            raise UserError("the checkpoint is not signed by the log key (or no public key is known: --public-key)",
                            location=checkpoint_file)
    else:
        latest = latest_checkpoint(ledger)
        if latest is None:
            raise UserError("the ledger holds no signed checkpoint yet: run `dctenant audit checkpoint`")
        note = latest
    if event > note.checkpoint.size:
        raise UserError(f"event {event} is newer than the checkpoint ({note.checkpoint.covers}); run "
                        "`dctenant audit checkpoint` for a newer one", location="--event")
    proof = tuple(ledger.inclusion_proof(index=event - 1, size=note.checkpoint.size))
    try:
        merkle.verify_inclusion(index=event - 1, size=note.checkpoint.size, leaf=ledger_db.event_leaf(found.hash),
                                proof=proof, root_hash=note.checkpoint.root)
    except merkle.ProofError:
        raise BackendError(f"event {event} as stored is not in the signed checkpoint's tree: the ledger was "
                           "altered; run `dctenant audit verify`") from None
    return Inclusion(event=found, note=note, proof=proof)


@dataclass(frozen=True, kw_only=True)
class Request:
    request: checkpoints.WitnessRequest

    def as_dict(self) -> dict[str, Any]:
        return {"oldSize": self.request.old_size, "request": self.request.text()}


def witness_request(ledger: ledger_db.Ledger, *, old_size: int) -> Request:
    """The newest stored checkpoint with the consistency proof from ``old_size`` (what the witness last signed)."""
    latest = latest_checkpoint(ledger)
    if latest is None:
        raise UserError("the ledger holds no signed checkpoint yet: run `dctenant audit checkpoint`")
    if old_size > latest.checkpoint.size:
        raise UserError(f"the witness has signed {old_size} events, more than the newest checkpoint "
                        f"({latest.checkpoint.covers}): the ledger was rolled back", location="--old-size")
    proof = tuple(ledger.consistency_proof(old=old_size, new=latest.checkpoint.size))
    return Request(request=checkpoints.WitnessRequest(old_size=old_size, proof=proof, checkpoint=latest))


def report_source(ledger: ledger_db.Ledger, *, up_to: int | None = None) -> reports.Source:
    """The newest signed checkpoint, for a report to embed at issuance, saying exactly which events it covers.

    The detail's first line says it in words; the rest is the signed note itself, which
    ``audit verify --report`` reads back to hold the ledger to it. ``up_to`` is the report's last
    event: a report reproduced later embeds the checkpoint it was issued with, not a newer one.
    """
    latest = latest_checkpoint(ledger, up_to=up_to)
    if latest is None:
        return reports.Source(name=REPORT_SOURCE, detail="none: the ledger holds no signed checkpoint, so this "
                              "report cannot show later truncation or rewriting (see `dctenant audit checkpoint`)")
    cp = latest.checkpoint
    return reports.Source(name=REPORT_SOURCE, detail=(
        f"{cp.covers} of {cp.origin} (tree size {cp.size}, root {base64.b64encode(cp.root).decode()}); not the "
        f"report-issued event recorded after it\n{latest.text()}"))


@dataclass(frozen=True, kw_only=True)
class Log:
    events: tuple[audit_events.LedgerEvent, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"events": [e.as_dict() for e in self.events]}

    def csv(self) -> str:
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["seq", "at", "kind", "actor", "tenant", "subject", "before", "after", "reason", "hash"])
        for e in self.events:
            writer.writerow([e.seq, audit_events.stamp(e.at), e.kind, e.actor, e.tenant or "",
                             chaining.canonical(e.subject),
                             chaining.canonical(e.before), chaining.canonical(e.after), e.reason, e.hash])
        return out.getvalue()


def log(ledger: ledger_db.Ledger, *, tenant: str | None = None, kinds: Collection[str] = (),
        since: dt.datetime | None = None, until: dt.datetime | None = None) -> Log:
    return Log(events=tuple(ledger.events(tenant=tenant, kinds=kinds or None, since=since, until=until)))
