"""engine.chaining.verify on hand-built rows: every verdict, its numbers and its words.

The rows are hashed here independently of the product (``json.dumps`` of the whole object with
sorted keys, then SHA-256, as docs/audit.md describes), so a change to the hashing or to any
verdict of ``verify`` shows. ``locate`` is a plain dict lookup, which lets each threshold of the
break classification be hit exactly at its boundary.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from dctenant.domain import audit_events
from dctenant.engine import chaining, merkle

GENESIS = "0" * 64
Row = chaining.Row


def _hash(*, seq: int, prev: str, reason: str = "why") -> str:
    whole = {"actor": "ops", "after": {"cpu": "3"}, "at": f"2026-11-27T08:00:0{seq % 10}.000000Z",
             "before": {"cpu": "2"}, "kind": "quota-changed", "prev": prev, "reason": reason, "seq": seq,
             "subject": {"tenant": "bale"}}
    text = json.dumps(whole, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _row(*, seq: int, prev: str, reason: str = "why", stored: str | None = None) -> Row:
    digest = _hash(seq=seq, prev=prev, reason=reason) if stored is None else stored
    return (seq, f"2026-11-27T08:00:0{seq % 10}.000000Z", "quota-changed", "ops", '{"tenant":"bale"}',
            '{"cpu":"2"}', '{"cpu":"3"}', reason, prev, digest)


def _chain(n: int) -> list[Row]:
    rows: list[Row] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        rows.append(_row(seq=seq, prev=prev))
        prev = rows[-1][9]
    return rows


def _locate(rows: list[Row], **extra: int) -> dict[str, int]:
    return {row[9]: row[0] for row in rows} | extra


def _verify(rows: list[Row], where: dict[str, int] | None = None, **kwargs: object) -> audit_events.ChainReport:
    table = where if where is not None else _locate(rows)
    return chaining.verify(rows, locate=table.get, **kwargs)  # type: ignore[arg-type]


def test_the_rows_hash_as_an_independent_implementation_says() -> None:
    for row in _chain(3):
        assert chaining.row_hash(row) == row[9]


def test_an_intact_chain_reports_its_count_and_last_hash_and_feeds_the_tree() -> None:
    rows = _chain(3)
    tree = merkle.Builder()
    report = _verify(rows, tree=tree)
    assert report == audit_events.ChainReport(events=3, last_hash=rows[2][9], breach=None)
    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(row[9])).digest() for row in rows]
    # The root of three leaves, by RFC 6962: H(1 || H(1 || l0 || l1) || l2).
    left = hashlib.sha256(b"\x01" + leaves[0] + leaves[1]).digest()
    assert tree.size == 3
    assert tree.root() == hashlib.sha256(b"\x01" + left + leaves[2]).digest()


def test_an_empty_ledger_has_no_last_hash() -> None:
    assert _verify([]) == audit_events.ChainReport(events=0, last_hash=None)


def test_edited_content_is_caught_by_its_own_hash() -> None:
    rows = _chain(3)
    rows[1] = _row(seq=2, prev=rows[0][9], reason="changed", stored=rows[1][9])
    report = _verify(rows)
    assert report == audit_events.ChainReport(events=1, last_hash=rows[0][9], breach=audit_events.Breach(
        seq=2, problem=audit_events.Problem.EDITED, message="its content no longer matches its hash"))


def test_an_event_numbered_out_of_turn_is_edited() -> None:
    rows = _chain(1)
    rows.append(_row(seq=5, prev=rows[0][9]))
    report = _verify(rows)
    assert report == audit_events.ChainReport(events=1, last_hash=rows[0][9], breach=audit_events.Breach(
        seq=5, problem=audit_events.Problem.EDITED, message="it follows event 1 but is numbered 5"))


def test_one_deleted_event_is_named_alone() -> None:
    rows = _chain(3)
    kept = [rows[0], rows[2]]
    report = _verify(kept, _locate(kept))
    assert report == audit_events.ChainReport(events=1, last_hash=rows[0][9], breach=audit_events.Breach(
        seq=2, problem=audit_events.Problem.DELETED,
        message="event 2 deleted: event 3 links to an event the ledger no longer holds"))


def test_two_deleted_events_are_named_as_a_span() -> None:
    rows = _chain(4)
    kept = [rows[0], rows[3]]
    report = _verify(kept, _locate(kept))
    assert report.breach == audit_events.Breach(
        seq=2, problem=audit_events.Problem.DELETED,
        message="events 2..3 deleted: event 4 links to an event the ledger no longer holds")


def test_a_first_event_that_does_not_start_the_chain_was_preceded_by_deleted_ones() -> None:
    rows = _chain(3)
    report = _verify(rows[2:], _locate(rows[2:]))
    assert report == audit_events.ChainReport(events=0, last_hash=None, breach=audit_events.Breach(
        seq=1, problem=audit_events.Problem.DELETED,
        message="events 1..2 deleted: event 3 links to an event the ledger no longer holds"))


def test_a_first_event_in_turn_with_a_foreign_link_is_deleted_before_it() -> None:
    # In turn and self-consistent: only "it is the first" makes this a deletion.
    row = _row(seq=1, prev="ab" * 32)
    report = _verify([row], {})
    assert report.breach == audit_events.Breach(
        seq=1, problem=audit_events.Problem.DELETED,
        message="event 1 deleted: event 1 links to an event the ledger no longer holds")


def test_a_bad_hash_with_a_foreign_link_is_a_deletion() -> None:
    rows = _chain(1)
    rows.append(_row(seq=2, prev="ab" * 32, stored="cd" * 32))
    report = _verify(rows, _locate(rows))
    assert report.breach == audit_events.Breach(
        seq=2, problem=audit_events.Problem.DELETED,
        message="event 2 deleted: event 2 links to an event the ledger no longer holds")


def test_an_event_changed_and_rehashed_breaks_the_next_link() -> None:
    rows = _chain(3)
    rows[1] = _row(seq=2, prev=rows[0][9], reason="changed")  # rehashed: self-consistent
    report = _verify(rows, _locate(rows))
    assert report == audit_events.ChainReport(events=2, last_hash=rows[1][9], breach=audit_events.Breach(
        seq=2, problem=audit_events.Problem.EDITED,
        message="it was changed and its hash recomputed: event 3 no longer links to it"))


def test_a_link_forward_is_a_reordering() -> None:
    rows = _chain(3)
    rows[1] = _row(seq=2, prev="ab" * 32)
    report = _verify(rows, _locate(rows, **{"ab" * 32: 3}))
    assert report.breach == audit_events.Breach(
        seq=2, problem=audit_events.Problem.REORDERED, message="it links to event 3, which now comes after it")


def test_a_link_to_itself_is_not_a_reordering() -> None:
    # target == seq: the boundary of "points forward"; in turn, self-consistent, not first: rehashed.
    rows = _chain(2)
    rows[1] = _row(seq=2, prev="ab" * 32)
    report = _verify(rows, _locate(rows, **{"ab" * 32: 2}))
    assert report.breach == audit_events.Breach(
        seq=1, problem=audit_events.Problem.EDITED,
        message="it was changed and its hash recomputed: event 2 no longer links to it")


def test_a_link_further_back_is_an_insertion() -> None:
    rows = _chain(4)
    rows[3] = _row(seq=4, prev=rows[0][9])
    report = _verify(rows, _locate(rows))
    assert report == audit_events.ChainReport(events=3, last_hash=rows[2][9], breach=audit_events.Breach(
        seq=2, problem=audit_events.Problem.INSERTED,
        message="events 2..3 are not in the chain: event 4 links to event 1"))


def test_a_link_to_the_previous_event_number_is_not_an_insertion() -> None:
    # target == previous_seq: the boundary of "points back".
    rows = _chain(3)
    rows[2] = _row(seq=3, prev="ab" * 32)
    report = _verify(rows, _locate(rows, **{"ab" * 32: 2}))
    assert report.breach == audit_events.Breach(
        seq=2, problem=audit_events.Problem.EDITED,
        message="it was changed and its hash recomputed: event 3 no longer links to it")


def test_a_recorded_anchor_that_is_present_keeps_the_chain_intact() -> None:
    rows = _chain(3)
    assert _verify(rows, anchor=rows[1][9], anchor_seq=2) == audit_events.ChainReport(
        events=3, last_hash=rows[2][9])


def test_an_anchor_beyond_the_end_means_truncation() -> None:
    rows = _chain(2)
    report = _verify(rows, anchor="ab" * 32, anchor_seq=3)
    assert report == audit_events.ChainReport(events=2, last_hash=rows[1][9], breach=audit_events.Breach(
        seq=3, problem=audit_events.Problem.TRUNCATED,
        message="the hash was recorded for event 3, but the ledger ends at event 2: events 3..3 were cut off "
                "(or an older copy of the ledger was restored)"))


def test_an_anchor_at_the_last_event_that_differs_means_a_rewrite() -> None:
    rows = _chain(2)
    report = _verify(rows, anchor="ab" * 32, anchor_seq=2)
    assert report.breach == audit_events.Breach(
        seq=None, problem=audit_events.Problem.REWRITTEN,
        message=f"event 2 no longer has the hash {'ab' * 32} recorded earlier: it or an event before it was "
                "rewritten and the chain re-hashed; a signed checkpoint (--checkpoint) names the first that differs")


def test_an_anchor_of_unknown_place_is_missing() -> None:
    rows = _chain(2)
    report = _verify(rows, anchor="ab" * 32)
    assert report == audit_events.ChainReport(events=2, last_hash=rows[1][9], breach=audit_events.Breach(
        seq=None, problem=audit_events.Problem.ANCHOR_MISSING,
        message=f"no event has the hash {'ab' * 32} recorded earlier: events were cut off the end, or rewritten "
                "and the chain re-hashed; a signed checkpoint (--checkpoint) or the report (--report) names the "
                "first that differs"))


@pytest.mark.parametrize("count", [0, 1])
def test_an_empty_anchor_is_never_found(count: int) -> None:
    rows = _chain(count)
    report = _verify(rows, anchor="", anchor_seq=None)
    assert report.breach == audit_events.Breach(
        seq=None, problem=audit_events.Problem.ANCHOR_MISSING,
        message="no event has the hash  recorded earlier: events were cut off the end, or rewritten "
                "and the chain re-hashed; a signed checkpoint (--checkpoint) or the report (--report) names the "
                "first that differs")
    assert report.events == count

