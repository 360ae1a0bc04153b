"""The audit ledger and usage-history store: hash-chained events and snapshots in SQL.

Auditors must be able to trust that what dctenant did is written down and was not changed
afterwards. Every change and action is appended here as an event whose hash covers its content
and the previous event's hash (rules in ``engine.chaining``); ``verify`` recomputes the chain.
The same database keeps usage snapshots (``clients.snapshot_db``, its own tables and schema
version), so that reports outlive Prometheus' retention.

SQLite in the user's state directory (WAL mode) is the default; PostgreSQL serves production.
Appends are serialised so that concurrent writers never fork the chain: SQLite takes its write
lock up front (``BEGIN IMMEDIATE``), PostgreSQL a transaction-scoped advisory lock; the unique
``prev_hash`` column makes a fork impossible even if that were bypassed. SQLAlchemy Core is
imported lazily: ``dctenant --help`` must not pay for it. Only this module and the stores with their
own tables in the same database (``clients.selfservice_db``, ``clients.snapshot_db``) import it.
"""

from __future__ import annotations

import getpass
import os
import pathlib
import socket
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dctenant.domain import audit_events
from dctenant.engine import chaining
from dctenant.errors import BackendError, UserError

if TYPE_CHECKING:
    import sqlalchemy as sa

SCHEMA_VERSION = 2
PAGE = 5000
# The key of PostgreSQL's advisory lock that serialises appends and migrations (any fixed number).
_LOCK_KEY = 0x64637465  # "dcte"


@dataclass(frozen=True, kw_only=True)
class Draft:
    """An event to append: everything but its number and hashes, which the ledger assigns."""

    kind: str
    actor: str
    subject: Mapping[str, str]
    before: Any = None
    after: Any = None
    reason: str = ""
    at: datetime | None = None


def default_url() -> str:
    """``$DCTENANT_LEDGER``, else SQLite at ``$XDG_STATE_HOME/dctenant/ledger.db`` (``~/.local/state``)."""
    if url := os.environ.get("DCTENANT_LEDGER"):
        return url
    state = os.environ.get("XDG_STATE_HOME") or str(pathlib.Path.home() / ".local" / "state")
    return str(pathlib.Path(state) / "dctenant" / "ledger.db")


def os_actor() -> str:
    """The OS user and host: who did it, when no authenticated identity is known."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def open_ledger(url: str | None = None) -> Ledger:
    """Open (creating and migrating as needed) the ledger at ``url``: a SQLite path or URL, or PostgreSQL."""
    return Ledger(_engine(url or default_url()))


def _engine(url: str) -> sa.Engine:
    import sqlalchemy as sa
    from sqlalchemy import event

    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    elif "://" not in url:
        path = pathlib.Path(url).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create the ledger's directory {path.parent}: {exc}") from exc
        url = f"sqlite:///{path}"
    if not url.startswith(("sqlite", "postgresql")):
        raise UserError(f"ledger {url!r}: only SQLite and PostgreSQL are supported", location="--ledger")
    try:
        engine = sa.create_engine(url, future=True)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise UserError(f"cannot use ledger {url!r}: {exc}", location="--ledger") from exc
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            # Take transaction control from the driver, so that appends can BEGIN IMMEDIATE.
            dbapi.isolation_level = None
            cursor = dbapi.cursor()
            cursor.execute("PRAGMA busy_timeout = 60000")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            immediate = conn.get_execution_options().get("dctenant_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    return engine


def _tables() -> tuple[sa.MetaData, dict[str, sa.Table]]:
    import sqlalchemy as sa

    meta = sa.MetaData()
    text, big = sa.Text, sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    tables = {
        "schema_version": sa.Table("schema_version", meta, sa.Column("version", sa.Integer, primary_key=True),
                                   sa.Column("applied_at", text, nullable=False)),
        "events": sa.Table(
            "events", meta,
            sa.Column("seq", big, primary_key=True, autoincrement=False),
            sa.Column("at", text, nullable=False), sa.Column("kind", text, nullable=False),
            sa.Column("actor", text, nullable=False), sa.Column("subject", text, nullable=False),
            sa.Column("before", text, nullable=False), sa.Column("after", text, nullable=False),
            sa.Column("reason", text, nullable=False),
            sa.Column("prev_hash", text, nullable=False, unique=True),
            sa.Column("hash", text, nullable=False, unique=True),
            sa.Index("events_at", "at"), sa.Index("events_kind_at", "kind", "at")),
        # The first snapshot tables (keyed by label); ``clients.snapshot_db`` copies them into its own.
        "snapshot_periods": sa.Table(
            "snapshot_periods", meta, sa.Column("period", text, primary_key=True),
            sa.Column("start", text, nullable=False), sa.Column("end", text, nullable=False),
            sa.Column("taken_at", text, nullable=False), sa.Column("source", text, nullable=False),
            sa.Column("rows", sa.Integer, nullable=False), sa.Column("digest", text, nullable=False),
            sa.Column("seq", big, nullable=False)),
        "snapshots": sa.Table(
            "snapshots", meta,
            sa.Column("period", text, primary_key=True), sa.Column("tenant", text, primary_key=True),
            sa.Column("pool", text, primary_key=True), sa.Column("resource", text, primary_key=True),
            sa.Column("stat", text, primary_key=True), sa.Column("day", text, primary_key=True),
            sa.Column("value", text, nullable=False)),
    }
    return meta, tables


# Versioned migrations: version -> the tables it creates. Never edit a released step; add one.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, ("events",)),
    (2, ("snapshot_periods", "snapshots")),
)


class Ledger:
    """An open ledger database. Not thread-safe; each process opens its own."""

    def __init__(self, engine: sa.Engine) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self.meta, self.tables = _tables()
        try:
            self._migrate()
        except sa.exc.OperationalError as exc:
            raise BackendError(f"cannot open the ledger at {self.url}: {exc.orig}") from exc

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    # -- transactions ------------------------------------------------------------------------------

    def _writing(self) -> Any:
        """A connection in a transaction that holds the ledger's write lock until commit."""
        return _Writing(self)

    def _lock(self, conn: sa.Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute(self._sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})

    def _migrate(self) -> None:
        sa = self._sa
        with self._writing() as conn:
            self.tables["schema_version"].create(conn, checkfirst=True)
            current = conn.execute(sa.select(sa.func.max(self.tables["schema_version"].c.version))).scalar() or 0
            if current > SCHEMA_VERSION:
                raise BackendError(f"the ledger at {self.url} has schema version {current}, newer than this "
                                   f"dctenant knows ({SCHEMA_VERSION}); upgrade dctenant")
            for version, names in MIGRATIONS:
                if version > current:
                    for name in names:
                        self.tables[name].create(conn, checkfirst=True)
                    conn.execute(self.tables["schema_version"].insert().values(
                        version=version, applied_at=audit_events.stamp(datetime.now(UTC))))

    def schema_version(self) -> int:
        sa = self._sa
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(self.tables["schema_version"].c.version))).scalar() or 0)

    # -- events ------------------------------------------------------------------------------------

    def append(self, *, kind: str, actor: str, subject: Mapping[str, str], before: Any = None, after: Any = None,
               reason: str = "", at: datetime | None = None) -> audit_events.LedgerEvent:
        """Append one event at the end of the chain (``at`` defaults to now, UTC)."""
        return self.append_many([Draft(kind=kind, actor=actor, subject=subject, before=before, after=after,
                                       reason=reason, at=at)])[0]

    def append_many(self, drafts: Iterable[Draft]) -> tuple[audit_events.LedgerEvent, ...]:
        """Append several events in one transaction: all are recorded, in order, or none."""
        with self._writing() as conn:
            return self._append(conn, drafts)

    def _append(self, conn: sa.Connection, drafts: Iterable[Draft]) -> tuple[audit_events.LedgerEvent, ...]:
        sa = self._sa
        events = self.tables["events"]
        last = conn.execute(sa.select(events.c.seq, events.c.hash).order_by(events.c.seq.desc()).limit(1)).first()
        seq, prev = (int(last[0]), str(last[1])) if last else (0, audit_events.GENESIS)
        out: list[audit_events.LedgerEvent] = []
        rows: list[dict[str, Any]] = []
        for draft in drafts:
            _check_kind(draft.kind)
            seq += 1
            at = draft.at or datetime.now(UTC)
            subject = {str(k): str(v) for k, v in draft.subject.items()}
            texts = {"at": audit_events.stamp(at), "subject": chaining.canonical(subject),
                     "before": chaining.canonical(draft.before), "after": chaining.canonical(draft.after)}
            digest = chaining.event_hash(seq=seq, kind=draft.kind, actor=draft.actor, reason=draft.reason, prev=prev,
                                         **texts)
            rows.append({"seq": seq, "kind": draft.kind, "actor": draft.actor, "reason": draft.reason,
                         "prev_hash": prev, "hash": digest, **texts})
            out.append(audit_events.LedgerEvent(seq=seq, at=audit_events.parse_stamp(texts["at"]), kind=draft.kind,
                                         actor=draft.actor, subject=subject, before=draft.before, after=draft.after,
                                         reason=draft.reason, prev_hash=prev, hash=digest))
            prev = digest
        if rows:
            conn.execute(events.insert(), rows)
        return tuple(out)

    def _rows(self, where: Sequence[Any] = ()) -> Iterator[chaining.Row]:
        """Stored rows in ``seq`` order, a page per short transaction (no lock is held between pages)."""
        sa = self._sa
        events = self.tables["events"]
        columns = (events.c.seq, events.c.at, events.c.kind, events.c.actor, events.c.subject, events.c.before,
                   events.c.after, events.c.reason, events.c.prev_hash, events.c.hash)
        after = 0
        while True:
            query = sa.select(*columns).where(events.c.seq > after, *where).order_by(events.c.seq).limit(PAGE)
            with self.engine.connect() as conn:
                page = conn.execute(query).all()
            for row in page:
                yield tuple(row)
            if len(page) < PAGE:
                return
            after = int(page[-1][0])

    def events(self, *, kinds: Collection[str] | None = None, tenant: str | None = None,
               since: datetime | None = None, until: datetime | None = None) -> Iterator[audit_events.LedgerEvent]:
        """Events in order, filtered by kind, tenant (the subject's ``tenant``) and ``[since, until)``."""
        events = self.tables["events"]
        where: list[Any] = []
        if kinds is not None:
            where.append(events.c.kind.in_(list(kinds)))
        if since is not None:
            where.append(events.c.at >= audit_events.stamp(since))
        if until is not None:
            where.append(events.c.at < audit_events.stamp(until))
        if tenant is not None:
            # The subject is canonical JSON, so this finds every candidate; the exact test follows.
            needle = chaining.canonical({"tenant": tenant})[1:-1]
            where.append(events.c.subject.contains(needle, autoescape=True))
        for row in self._rows(where):
            event = _event(row)
            if tenant is None or event.tenant == tenant:
                yield event

    def verify(self, *, anchor: str | None = None) -> audit_events.ChainReport:
        """Recompute the chain; ``anchor``, a hash an earlier report recorded, detects a cut-off end."""
        sa = self._sa
        events = self.tables["events"]

        def locate(digest: str) -> int | None:
            with self.engine.connect() as conn:
                found = conn.execute(sa.select(events.c.seq).where(events.c.hash == digest)).scalar()
            return None if found is None else int(found)

        return chaining.verify(self._rows(), locate=locate, anchor=anchor)

    def event(self, seq: int) -> audit_events.LedgerEvent | None:
        sa = self._sa
        events = self.tables["events"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(events).where(events.c.seq == seq)).first()
        return _event(tuple(row)) if row else None

    def last_hash(self) -> str | None:
        last = self.last_event()
        return last.hash if last else None

    def last_event(self, *, until: datetime | None = None) -> audit_events.LedgerEvent | None:
        """The newest event (recorded before ``until``, when given)."""
        sa = self._sa
        events = self.tables["events"]
        query = sa.select(events).order_by(events.c.seq.desc()).limit(1)
        if until is not None:
            query = query.where(events.c.at < audit_events.stamp(until))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _event(tuple(row)) if row else None

    def count(self) -> int:
        sa = self._sa
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.tables["events"])).scalar() or 0)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Writing:
    """``with ledger._writing() as conn``: a transaction holding the write lock, committed on success."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._conn: Any = None
        self._tx: Any = None

    def __enter__(self) -> sa.Connection:
        self._conn = self._ledger.engine.connect().execution_options(dctenant_write=True)
        self._tx = self._conn.begin()
        self._ledger._lock(self._conn)
        conn: sa.Connection = self._conn
        return conn

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is None:
                self._tx.commit()
            else:
                self._tx.rollback()
        finally:
            self._conn.close()


def _check_kind(kind: str) -> None:
    if not kind or not all(c.islower() or c.isdigit() or c == "-" for c in kind):
        raise UserError(f"event kind {kind!r} must be kebab-case (like {audit_events.ACTION_TAKEN!r})")


def _event(row: chaining.Row) -> audit_events.LedgerEvent:
    import json

    seq, at, kind, actor, subject, before, after, reason, prev, digest = row
    return audit_events.LedgerEvent(seq=int(seq), at=audit_events.parse_stamp(at), kind=kind, actor=actor,
                             subject=json.loads(subject), before=json.loads(before), after=json.loads(after),
                             reason=reason, prev_hash=prev, hash=digest)
