"""Usage snapshots in the ledger database: versioned rollups of a period, each recorded in the chain.

Reports on usage and traffic must outlive Prometheus' retention and be reproducible, so the
rollups of a period are stored here, and storing them appends a ``snapshot-taken`` (or, for a
later version, ``snapshot-replaced``) event to the audit chain in the same transaction, with the
rows' SHA-256 digest. Re-taking a snapshot never deletes: it adds version n+1 beside the older
ones, so a report issued from version 1 can still be recomputed from exactly the rows it read.

Snapshots are keyed by calendar and the exact ``[start, end)`` instants of their period, never by
the label a user typed: ``2026-10`` and ``2026-10-01..2026-10-31`` are the same range; Jalali
``1405-08`` is a different one (Tehran days). The tables sit beside the ledger's (same URL,
``snapshot_`` prefix) with their own schema version; the ledger's first snapshot tables
(``snapshots``, ``snapshot_periods``) are read once and copied in as version 1 of each period.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dctenant.clients import ledger_db, sqlstores
from dctenant.domain import audit_events, periods, snapshots
from dctenant.engine import chaining
from dctenant.errors import BackendError

if TYPE_CHECKING:
    import sqlalchemy as sa

SCHEMA_VERSION = 1


def _tables(meta: sa.MetaData) -> dict[str, sa.Table]:
    import sqlalchemy as sa

    text, big = sa.Text, sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return {
        "version": sqlstores.version_table(meta, "snapshot_schema_version"),
        "sets": sa.Table(
            "snapshot_sets", meta, sa.Column("id", big, primary_key=True, autoincrement=False),
            sa.Column("calendar", text, nullable=False), sa.Column("zone", text, nullable=False),
            sa.Column("start", text, nullable=False), sa.Column("end", text, nullable=False),
            sa.Column("label", text, nullable=False), sa.Column("version", sa.Integer, nullable=False),
            sa.Column("taken_at", text, nullable=False), sa.Column("source", text, nullable=False),
            sa.Column("rows", sa.Integer, nullable=False), sa.Column("digest", text, nullable=False),
            sa.Column("seq", big, nullable=False), sa.Column("partial", sa.Integer, nullable=False),
            sa.Column("evaluated_until", text, nullable=False), sa.Column("provenance", text, nullable=False),
            sa.UniqueConstraint("calendar", "start", "end", "version", name="snapshot_sets_key")),
        "values": sa.Table(
            "snapshot_values", meta,
            sa.Column("snapshot", big, primary_key=True), sa.Column("tenant", text, primary_key=True),
            sa.Column("pool", text, primary_key=True), sa.Column("resource", text, primary_key=True),
            sa.Column("stat", text, primary_key=True), sa.Column("day", text, primary_key=True),
            sa.Column("value", text, nullable=False)),
    }


def digest(rollups: Sequence[snapshots.Rollup]) -> str:
    """SHA-256 of the canonical JSON of the rollups in key order: what the ledger records for a snapshot."""
    text = chaining.canonical([[r.tenant, r.pool, r.resource, r.stat, r.day, r.value] for r in rollups])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def open_snapshots(ledger: ledger_db.Ledger) -> Snapshots:
    """The snapshot store of an open ledger (creating and migrating its tables as needed)."""
    return Snapshots(ledger)


class Snapshots:
    """The snapshots kept in one ledger database. Writes share the ledger's lock and transaction."""

    def __init__(self, ledger: ledger_db.Ledger) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self.ledger = ledger
        self.tables = _tables(sa.MetaData())
        try:
            self._migrate()
        except sa.exc.OperationalError as exc:
            raise BackendError(f"cannot open the snapshots at {ledger.url}: {exc.orig}") from exc

    def _migrate(self) -> None:
        def first(conn: sa.Connection) -> None:
            self.tables["sets"].create(conn, checkfirst=True)
            self.tables["values"].create(conn, checkfirst=True)
            self._copy_legacy(conn)

        # The ledger's write lock serialises this with every append, so two first runs cannot both migrate.
        with self.ledger._writing() as conn:
            sqlstores.migrate(conn, self.tables["version"], ((1, first),), known=SCHEMA_VERSION,
                              where=f"{self.ledger.url} (snapshots)")

    def _copy_legacy(self, conn: sa.Connection) -> None:
        """The ledger's first snapshot tables, keyed by label, become version 1 of their ranges."""
        sa = self._sa
        legacy_info, legacy_rows = self.ledger.tables.get("snapshot_periods"), self.ledger.tables.get("snapshots")
        if legacy_info is None or legacy_rows is None or not sa.inspect(conn).has_table(legacy_info.name):
            return
        sets, values = self.tables["sets"], self.tables["values"]
        for number, old in enumerate(conn.execute(sa.select(legacy_info).order_by(legacy_info.c.seq)).all(), 1):
            calendar = "jalali" if old.period[:4].isdigit() and int(old.period[:4]) < 1700 else "gregorian"
            conn.execute(sets.insert().values(
                id=number, calendar=calendar, zone="UTC", start=old.start, end=old.end, label=old.period, version=1,
                taken_at=old.taken_at, source=old.source, rows=old.rows, digest=old.digest, seq=old.seq,
                partial=int("partial" in old.source), evaluated_until=old.end, provenance="{}"))
            rows = conn.execute(sa.select(legacy_rows).where(legacy_rows.c.period == old.period)).all()
            if rows:
                conn.execute(values.insert(), [{"snapshot": number, "tenant": r.tenant, "pool": r.pool,
                                                "resource": r.resource, "stat": r.stat, "day": r.day,
                                                "value": r.value} for r in rows])

    def take(self, *, period: periods.Period, rollups: Sequence[snapshots.Rollup], source: str, actor: str,
             at: dt.datetime, partial: bool = False, evaluated_until: dt.datetime | None = None,
             provenance: Mapping[str, Any] | None = None) -> tuple[snapshots.SnapshotInfo, audit_events.LedgerEvent]:
        """Store a new version of the period's rollups and record it in the chain (one transaction).

        Older versions stay: the event says which version this one follows and its digest.
        """
        sa = self._sa
        sets, values = self.tables["sets"], self.tables["values"]
        ordered = sorted(rollups, key=snapshots.Rollup.key)
        found = digest(ordered)
        start, end = audit_events.stamp(period.start), audit_events.stamp(period.end)
        until = evaluated_until or period.end
        recorded = dict(provenance or {})
        with self.ledger._writing() as conn:
            old = conn.execute(sa.select(sets).where(sets.c.calendar == period.calendar, sets.c.start == start,
                                                     sets.c.end == end).order_by(sets.c.version.desc())
                               .limit(1)).first()
            number = int(conn.execute(sa.select(sa.func.max(sets.c.id))).scalar() or 0) + 1
            version = int(old.version) + 1 if old else 1
            kind = audit_events.SNAPSHOT_REPLACED if old else audit_events.SNAPSHOT_TAKEN
            before = ({"snapshot": int(old.id), "version": int(old.version), "rows": int(old.rows),
                       "digest": old.digest, "takenAt": old.taken_at} if old else None)
            event = self.ledger._append(conn, [ledger_db.Draft(
                kind=kind, actor=actor, subject={"period": period.label, "calendar": period.calendar},
                before=before,
                after={"snapshot": number, "version": version, "rows": len(ordered), "digest": found,
                       "source": source, "start": start, "end": end, "zone": period.zone, "partial": partial,
                       "evaluatedUntil": audit_events.stamp(until), "provenance": recorded},
                reason=(f"usage snapshot re-taken (version {version}; version {old.version} kept)" if old
                        else "usage snapshot"), at=at)])[0]
            conn.execute(sets.insert().values(
                id=number, calendar=period.calendar, zone=period.zone, start=start, end=end, label=period.label,
                version=version, taken_at=audit_events.stamp(at), source=source, rows=len(ordered), digest=found,
                seq=event.seq, partial=int(partial), evaluated_until=audit_events.stamp(until),
                provenance=chaining.canonical(recorded)))
            if ordered:
                conn.execute(values.insert(), [{"snapshot": number, "tenant": r.tenant, "pool": r.pool,
                                                "resource": r.resource, "stat": r.stat, "day": r.day,
                                                "value": r.value} for r in ordered])
        return self.info(number), event

    def infos(self) -> tuple[snapshots.SnapshotInfo, ...]:
        """Every stored version, by start, calendar, end and version."""
        sa = self._sa
        sets = self.tables["sets"]
        with self.ledger.engine.connect() as conn:
            rows = conn.execute(sa.select(sets).order_by(sets.c.start, sets.c.calendar, sets.c.end,
                                                         sets.c.version)).all()
        return tuple(_info(r) for r in rows)

    def info(self, snapshot: int) -> snapshots.SnapshotInfo:
        sa = self._sa
        sets = self.tables["sets"]
        with self.ledger.engine.connect() as conn:
            row = conn.execute(sa.select(sets).where(sets.c.id == snapshot)).first()
        if row is None:
            raise BackendError(f"no snapshot {snapshot} in the ledger at {self.ledger.url}")
        return _info(row)

    def latest(self, period: periods.Period) -> snapshots.SnapshotInfo | None:
        """The newest version for exactly ``period``'s calendar and range, if any."""
        wanted = (period.calendar, period.start, period.end)
        found = [i for i in self.infos() if i.period_key == wanted]
        return found[-1] if found else None

    def rollups(self, *, snapshot: int, tenant: str | None = None) -> tuple[snapshots.Rollup, ...]:
        """One stored version's rollups (all tenants, or one), in key order."""
        sa = self._sa
        table = self.tables["values"]
        query = sa.select(table.c.tenant, table.c.pool, table.c.resource, table.c.stat, table.c.day,
                          table.c.value).where(table.c.snapshot == snapshot)
        if tenant is not None:
            query = query.where(table.c.tenant == tenant)
        with self.ledger.engine.connect() as conn:
            # The driver's own cursor gives plain tuples: several times cheaper than Row objects here.
            rows = list(conn.execute(query).cursor.fetchall())
        rows.sort()
        # object.__new__ and __dict__: building 200,000 frozen dataclasses through __init__ dominates a
        # monthly report for 1,000 tenants (the usage benchmark); the values are the same.
        make, cls = object.__new__, snapshots.Rollup
        out = []
        for t, p, r, s, d, v in rows:
            item = make(cls)
            item.__dict__.update(tenant=t, pool=p, resource=r, stat=s, day=d, value=v)
            out.append(item)
        return tuple(out)


def _info(r: Any) -> snapshots.SnapshotInfo:
    return snapshots.SnapshotInfo(
        id=int(r.id), label=r.label, calendar=r.calendar, zone=r.zone, start=audit_events.parse_stamp(r.start),
        end=audit_events.parse_stamp(r.end), version=int(r.version), taken_at=audit_events.parse_stamp(r.taken_at),
        source=r.source, rows=int(r.rows), digest=r.digest, seq=int(r.seq), partial=bool(r.partial),
        evaluated_until=audit_events.parse_stamp(r.evaluated_until), provenance=json.loads(r.provenance))
