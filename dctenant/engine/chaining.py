"""Canonical JSON and the hash chain of the audit ledger, apart from any database.

An auditor must be able to recompute every hash with nothing but the stored values and a
description of the rules (docs/audit.md, with a worked example), so the rules live here, pure: no clock, file or
network. ``clients.ledger_db`` feeds rows in; what comes out is a verdict that names the first
event that was edited, deleted, inserted or reordered.

The hash of an event is the SHA-256 (hex) of the canonical JSON of the object
``{"actor", "after", "at", "before", "kind", "prev", "reason", "seq", "subject"}``: keys sorted,
no whitespace, UTF-8 unescaped, decimals as strings, times as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from dctenant.domain import audit_events
from dctenant.engine import merkle

# A stored event as the ledger reads it: (seq, at, kind, actor, subject, before, after, reason, prev, hash),
# where subject, before and after are the canonical JSON texts that were hashed.
Row = tuple[int, str, str, str, str, str, str, str, str, str]

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _plain(value: Any) -> Any:
    """Values JSON cannot hold, in the one form the ledger writes them."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text
    if isinstance(value, dt.datetime):
        return audit_events.stamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot record a {type(value).__name__} in the ledger: {value!r}")


def canonical(value: Any) -> str:
    """The canonical JSON text of a value (sorted keys, no spaces, Decimal as a plain string)."""
    return _dumps(_plain(value))


def event_hash(*, seq: int, at: str, kind: str, actor: str, subject: str, before: str, after: str, reason: str,
               prev: str) -> str:
    """SHA-256 of the event's canonical JSON; ``subject``, ``before`` and ``after`` are canonical texts.

    The object is assembled from its canonical parts in sorted key order, which is exactly what
    ``canonical`` of the whole object would give, and several times faster (the verify benchmark).
    """
    text = (f'{{"actor":{_dumps(actor)},"after":{after},"at":{_dumps(at)},"before":{before},'
            f'"kind":{_dumps(kind)},"prev":{_dumps(prev)},"reason":{_dumps(reason)},"seq":{seq},'
            f'"subject":{subject}}}')
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_hash(row: Row) -> str:
    """The hash a stored row should carry, recomputed from its content."""
    seq, at, kind, actor, subject, before, after, reason, prev, _ = row
    return event_hash(seq=seq, at=at, kind=kind, actor=actor, subject=subject, before=before, after=after,
                      reason=reason, prev=prev)


def verify(rows: Iterable[Row], *, locate: Callable[[str], int | None], anchor: str | None = None,
           anchor_seq: int | None = None, tree: merkle.Builder | None = None) -> audit_events.ChainReport:
    """Walk the rows in ``seq`` order and report the first event where the chain does not hold.

    ``locate`` finds the seq of the stored event with a given hash (or None); it is only called
    at a break, to tell an insertion (the link points further back) from a reordering (it points
    forward) and from a deletion (it points nowhere). ``anchor`` is a hash recorded earlier (by a
    report, as event ``anchor_seq`` when known): if no event carries it, the ledger was cut off or
    rewritten. ``tree``, when given, receives the Merkle leaf of every event that passed, in order.
    """
    expected = audit_events.GENESIS
    previous_seq = 0
    count = 0
    anchor_seen = anchor is None
    add = tree.add if tree is not None else None
    for row in rows:
        seq, prev, stored = row[0], row[8], row[9]
        if prev != expected:
            return audit_events.ChainReport(events=count, last_hash=_last(expected),
                                     breach=_classify(row, previous_seq=previous_seq, locate=locate))
        if row_hash(row) != stored:
            return audit_events.ChainReport(events=count, last_hash=_last(expected), breach=audit_events.Breach(
                seq=seq, problem=audit_events.Problem.EDITED,
                message="its content no longer matches its hash"))
        if seq != previous_seq + 1:
            # Linked and self-consistent, yet numbered out of turn: renumbered after a change.
            return audit_events.ChainReport(events=count, last_hash=_last(expected), breach=audit_events.Breach(
                seq=seq, problem=audit_events.Problem.EDITED,
                message=f"it follows event {previous_seq} but is numbered {seq}"))
        if not anchor_seen and stored == anchor:
            anchor_seen = True
        if add is not None:
            add(hashlib.sha256(b"\x00" + bytes.fromhex(stored)).digest())
        expected, previous_seq = stored, seq
        count += 1
    if not anchor_seen:
        return audit_events.ChainReport(events=count, last_hash=_last(expected),
                                        breach=_anchor_missing(anchor or "", anchor_seq, count))
    return audit_events.ChainReport(events=count, last_hash=_last(expected))


def _anchor_missing(anchor: str, anchor_seq: int | None, count: int) -> audit_events.Breach:
    """No event carries the recorded hash: say what the evidence shows, and no more."""
    if anchor_seq is not None and anchor_seq > count:
        first = count + 1
        return audit_events.Breach(seq=first, problem=audit_events.Problem.TRUNCATED, message=(
            f"the hash was recorded for event {anchor_seq}, but the ledger ends at event {count}: events "
            f"{first}..{anchor_seq} were cut off (or an older copy of the ledger was restored)"))
    if anchor_seq is not None:
        return audit_events.Breach(seq=None, problem=audit_events.Problem.REWRITTEN, message=(
            f"event {anchor_seq} no longer has the hash {anchor} recorded earlier: it or an event before it was "
            "rewritten and the chain re-hashed; a signed checkpoint (--checkpoint) names the first that differs"))
    return audit_events.Breach(seq=None, problem=audit_events.Problem.ANCHOR_MISSING, message=(
        f"no event has the hash {anchor} recorded earlier: events were cut off the end, or rewritten and the "
        "chain re-hashed; a signed checkpoint (--checkpoint) or the report (--report) names the first that differs"))


def _last(expected: str) -> str | None:
    return None if expected == audit_events.GENESIS else expected


def _classify(row: Row, *, previous_seq: int, locate: Callable[[str], int | None]) -> audit_events.Breach:
    seq, prev = row[0], row[8]
    target = locate(prev)
    if target is not None and target > seq:
        return audit_events.Breach(seq=seq, problem=audit_events.Problem.REORDERED,
                            message=f"it links to event {target}, which now comes after it")
    if target is not None and target < previous_seq:
        return audit_events.Breach(seq=target + 1, problem=audit_events.Problem.INSERTED,
                            message=f"events {target + 1}..{previous_seq} are not in the chain: event {seq} "
                                    f"links to event {target}")
    if seq != previous_seq + 1 or row_hash(row) != row[9] or previous_seq == 0:
        first = previous_seq + 1
        span = f"event {first}" if seq - first <= 1 else f"events {first}..{seq - 1}"
        return audit_events.Breach(seq=first, problem=audit_events.Problem.DELETED,
                            message=f"{span} deleted: event {seq} links to an event the ledger no longer holds")
    return audit_events.Breach(seq=previous_seq, problem=audit_events.Problem.EDITED,
                        message=f"it was changed and its hash recomputed: event {seq} no longer links to it")
