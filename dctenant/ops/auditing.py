"""``dctenant audit``: verify the ledger's hash chain and read its events.

An auditor who kept a report can check that the ledger still holds the event the report
covered: ``verify`` takes that hash as an anchor (or reads it from the report's JSON), which is
the only way to notice events cut off the end of an otherwise intact chain.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from dctenant.clients import files, ledger_db
from dctenant.domain import audit_events
from dctenant.engine import chaining
from dctenant.errors import UserError


def anchor_of(report_file: str) -> str | None:
    """The ``ledger.lastHash`` a JSON report recorded (``None`` if it covered no event)."""
    try:
        text = files.read_text(pathlib.Path(report_file))
        if text is None:
            raise FileNotFoundError(report_file)
        data = json.loads(text)
        value = data["ledger"]["lastHash"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read the ledger hash from this JSON report ({type(exc).__name__})",
                        location=report_file) from None
    return None if value is None else str(value)


def verify(ledger: ledger_db.Ledger, *, anchor: str | None = None,
           report_file: str | None = None) -> audit_events.ChainReport:
    if report_file is not None:
        anchor = anchor_of(report_file)
    return ledger.verify(anchor=anchor)


@dataclass(frozen=True, kw_only=True)
class Log:
    events: tuple[audit_events.LedgerEvent, ...]

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
