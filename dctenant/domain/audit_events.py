"""Audit events and the verdict on their chain, as values every layer can share.

The ledger (``clients.ledger_db``) stores these, the engine (``engine.chaining``) hashes and checks
them, and the reports cite the hash of the last one they covered. Keeping them here, free of
I/O, lets the enforcement engine and the report renderers speak about events without a database.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The kinds of event dctenant records, all of them (the modules that record one name it from here);
# the ledger accepts any kebab-case kind, these are the known ones.
ALLOCATION_APPLIED = "allocation-applied"
NAMESPACE_CREATED = "namespace-created"
NAMESPACE_DELETED = "namespace-deleted"
QUOTA_CHANGED = "quota-changed"
LICENCE_CHANGED = "licence-changed"
ENFORCEMENT_DECISION = "enforcement-decision"
ACTION_TAKEN = "action-taken"
ACTION_UNDONE = "action-undone"
ENFORCEMENT_RELEASED = "enforcement-released"  # apply --release-enforcement overwrote what the enforcer held
REPORT_ISSUED = "report-issued"
SNAPSHOT_TAKEN = "snapshot-taken"
SNAPSHOT_REPLACED = "snapshot-replaced"
STACK_UPDATED = "stack-updated"
LEASE_TAKEN_OVER = "lease-taken-over"  # apply took the pool's lease from another holder (and why)
ACTION_INTENDED = "action-intended"  # the enforcer's intent, recorded before an action touches a cluster
PLAN_RECORDED = "plan-recorded"  # the demand and allocation of a pool, the forecaster's history
# Self-service: tokens, increase requests, and each change's intent before and failure after it.
TOKEN_CREATED = "token-created"
TOKEN_REVOKED = "token-revoked"
INCREASE_REQUESTED = "quota-increase-requested"
INCREASE_APPROVED = "quota-increase-approved"
INCREASE_REJECTED = "quota-increase-rejected"
CHANGE_INTENDED = "change-intended"
CHANGE_FAILED = "change-failed"

KINDS = (ALLOCATION_APPLIED, NAMESPACE_CREATED, NAMESPACE_DELETED, QUOTA_CHANGED, LICENCE_CHANGED,
         ENFORCEMENT_DECISION, ACTION_TAKEN, ACTION_UNDONE, ENFORCEMENT_RELEASED, REPORT_ISSUED, SNAPSHOT_TAKEN,
         SNAPSHOT_REPLACED, STACK_UPDATED, LEASE_TAKEN_OVER, ACTION_INTENDED, PLAN_RECORDED, TOKEN_CREATED,
         TOKEN_REVOKED, INCREASE_REQUESTED, INCREASE_APPROVED, INCREASE_REJECTED, CHANGE_INTENDED, CHANGE_FAILED)

# The previous hash of the first event: 64 zeros, so that every event has one.
GENESIS = "0" * 64


@dataclass(frozen=True, kw_only=True)
class LedgerEvent:
    """One recorded event: who did what to which subject, when, and the values before and after.

    ``seq`` numbers events from 1 without gaps; ``prev_hash`` is the hash of event ``seq - 1``
    (``GENESIS`` for the first) and ``hash`` the SHA-256 of this event's canonical JSON.
    """

    seq: int
    at: dt.datetime  # UTC
    kind: str
    actor: str
    subject: Mapping[str, str]
    before: Any
    after: Any
    reason: str
    prev_hash: str
    hash: str

    @property
    def tenant(self) -> str | None:
        return self.subject.get("tenant")

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": stamp(self.at), "kind": self.kind, "actor": self.actor,
                "subject": dict(self.subject), "before": self.before, "after": self.after, "reason": self.reason,
                "prevHash": self.prev_hash, "hash": self.hash}


class Problem(enum.Enum):
    """How a chain was found broken at its first bad event."""

    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"  # events a checkpoint covered are gone from the end (cut off, or an older copy)
    REWRITTEN = "rewritten"  # the chain holds together but no longer matches a signed checkpoint
    UNSIGNED = "unsigned"  # events no signed checkpoint covers: appended without the log key
    FORGED = "forged"  # a checkpoint whose signature does not verify
    TREE = "tree-damaged"  # the stored Merkle tree disagrees with the events
    ANCHOR_MISSING = "anchor-missing"  # no event has a hash recorded earlier; which one differs is unknown


@dataclass(frozen=True, kw_only=True)
class Breach:
    """The first place where the chain does not hold: which event, what happened, in words."""

    seq: int | None  # the first event that differs; None only when the evidence cannot tell
    problem: Problem
    message: str


@dataclass(frozen=True, kw_only=True)
class ChainReport:
    """The verdict of ``verify``: how many events were checked and the first breach, if any."""

    events: int
    last_hash: str | None
    breach: Breach | None = None

    @property
    def intact(self) -> bool:
        return self.breach is None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"intact": self.intact, "events": self.events, "lastHash": self.last_hash}
        if self.breach:
            data["breach"] = {"seq": self.breach.seq, "problem": self.breach.problem.value,
                              "message": self.breach.message}
        return data

    def summary(self) -> str:
        if self.breach is None:
            return f"{self.events} events, chain intact"
        where = "" if self.breach.seq is None else f" at event {self.breach.seq}"
        return f"chain broken{where} ({self.breach.problem.value}): {self.breach.message}"


def stamp(at: dt.datetime) -> str:
    """The one spelling of a time in the ledger: UTC, microseconds, ``Z`` (sorts as it reads)."""
    if at.tzinfo is None:
        raise ValueError(f"ledger times must be timezone-aware, got {at!r}")
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
