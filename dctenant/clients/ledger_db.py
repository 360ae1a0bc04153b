"""The audit ledger and usage-history store: hash-chained events, their Merkle tree, checkpoints, snapshots.

Auditors must be able to trust that what dctenant did is written down and was not changed
afterwards. Every change and action is appended here as an event whose hash covers its content
and the previous event's hash (rules in ``engine.chaining``); in the same transaction the event
becomes a leaf of an RFC 6962 Merkle tree whose complete subtrees are stored (``engine.merkle``),
and a writer holding the log key (``clients.signing``; never stored here) signs the new head as a
checkpoint. ``ops.auditing`` holds the ledger to those checkpoints. The same database keeps usage
snapshots (``clients.snapshot_db``, its own tables and schema version), so that reports outlive
Prometheus' retention.

SQLite in the user's state directory (WAL mode) is the default; PostgreSQL serves production;
both are opened through ``clients.sqlstores`` (read-only for verifiers). Appends are serialised
so that concurrent writers never fork the chain: SQLite takes its write lock up front
(``BEGIN IMMEDIATE``), PostgreSQL a transaction-scoped advisory lock; the unique ``prev_hash``
column makes a fork impossible even if that were bypassed. SQLAlchemy Core is imported lazily:
``dctenant --help`` must not pay for it.
"""

from __future__ import annotations

import getpass
import os
import pathlib
import socket
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from dctenant.clients import signing, sqlstores
from dctenant.domain import audit_events, checkpoints
from dctenant.engine import chaining, merkle
from dctenant.errors import BackendError, UserError

if TYPE_CHECKING:
    import sqlalchemy as sa

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


class _Auto:
    """The default of ``open_ledger(signer=...)``: the key configured for this user, if any."""


AUTO = _Auto()


def open_ledger(url: str | None = None, *, read_only: bool = False,
                signer: signing.Signer | _Auto | None = AUTO) -> Ledger:
    """Open the ledger at ``url`` (a SQLite path or URL, or PostgreSQL).

    For writing (the default) it is created and migrated as needed, and every append is signed
    with the configured log key (``clients.signing``), when there is one, in the same transaction.
    ``read_only`` opens an existing ledger without creating or changing anything (verify, log, report).
    """
    target = url or default_url()
    if isinstance(signer, _Auto):
        signer = None if read_only else signing.configured_signer()
    return Ledger(sqlstores.create_engine(target, read_only=read_only, what="ledger"), read_only=read_only,
                  signer=signer)


def _tables() -> tuple[sa.MetaData, dict[str, sa.Table]]:
    import sqlalchemy as sa

    meta = sa.MetaData()
    text, big = sa.Text, sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    tables = {
        "schema_version": sqlstores.version_table(meta),
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
        # Every perfect subtree of the RFC 6962 tree over the events (engine.merkle): leaf i is
        # (0, i), the node over leaves [j*2^l, (j+1)*2^l) is (l, j). About two rows per event.
        "merkle_nodes": sa.Table(
            "merkle_nodes", meta, sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("idx", big, primary_key=True, autoincrement=False),
            sa.Column("hash", text, nullable=False)),
        # Signed checkpoints (C2SP notes), one per tree size; the key that signed them is elsewhere.
        "checkpoints": sa.Table(
            "checkpoints", meta, sa.Column("size", big, primary_key=True, autoincrement=False),
            sa.Column("root", text, nullable=False), sa.Column("note", text, nullable=False),
            sa.Column("signed_at", text, nullable=False)),
    }
    return meta, tables


SCHEMA_VERSION = 3
# Versioned migrations: version -> the tables it creates. Never edit a released step; add one.
# Version 3 also builds the Merkle tree over the events already there.
MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, ("events",)),
    (2, ("snapshot_periods", "snapshots")),
    (3, ("merkle_nodes", "checkpoints")),
)


F = TypeVar("F", bound=Callable[..., Any])


def _boundary(method: F) -> F:
    """Database errors leave this module as one line naming the ledger (``BackendError``), never a traceback."""
    import functools
    import inspect

    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generating(self: Ledger, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(self, *args, **kwargs)
            except self._sa.exc.SQLAlchemyError as exc:
                raise sqlstores.one_line(exc, where=self.url) from None
        return generating  # type: ignore[return-value]

    @functools.wraps(method)
    def calling(self: Ledger, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except self._sa.exc.SQLAlchemyError as exc:
            raise sqlstores.one_line(exc, where=self.url) from None
    return calling  # type: ignore[return-value]


class Ledger:
    """An open ledger database. Not thread-safe; each process opens its own."""

    def __init__(self, engine: sa.Engine, *, read_only: bool = False, signer: signing.Signer | None = None) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self.read_only = read_only
        self.signer = signer
        self.meta, self.tables = _tables()
        try:
            if read_only:
                self._check_readable()
            else:
                self._migrate()
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            raise sqlstores.one_line(exc, where=self.url) from None
        except BaseException:
            engine.dispose()
            raise

    @property
    def url(self) -> str:
        """Where the ledger is, as the user would write it (a SQLite file path, or the URL without password)."""
        if self.dialect == "sqlite" and self.engine.url.database:
            import urllib.parse

            return urllib.parse.unquote(self.engine.url.database.removeprefix("file:"))
        return self.engine.url.render_as_string(hide_password=True)

    # -- transactions ------------------------------------------------------------------------------

    def _writing(self) -> Any:
        """A connection in a transaction that holds the ledger's write lock until commit."""
        return _Writing(self)

    def _lock(self, conn: sa.Connection) -> None:
        if self.dialect == "postgresql":
            conn.execute(self._sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})

    def _migrate(self) -> None:
        def creating(names: tuple[str, ...]) -> Any:
            def apply(conn: sa.Connection) -> None:
                for name in names:
                    self.tables[name].create(conn, checkfirst=True)
                if "merkle_nodes" in names:
                    self._build_tree(conn)
            return apply

        with self._writing() as conn:
            sqlstores.migrate(conn, self.tables["schema_version"],
                              tuple((version, creating(names)) for version, names in MIGRATIONS),
                              known=SCHEMA_VERSION, where=self.url)

    def _check_readable(self) -> None:
        """A read-only open: the ledger must exist with exactly the schema this dctenant reads."""
        with self.engine.connect() as conn:
            current = sqlstores.current_version(conn, self.tables["schema_version"])
        if current == 0:
            raise BackendError(f"{self.url} holds no dctenant ledger (no schema_version table)")
        if current != SCHEMA_VERSION:
            raise BackendError(f"the ledger at {self.url} has schema version {current}, this dctenant reads "
                               f"{SCHEMA_VERSION}; " + ("upgrade dctenant" if current > SCHEMA_VERSION else
                                                       "run `dctenant audit checkpoint` (or any command that "
                                                       "records an event) once to migrate it"))

    def _build_tree(self, conn: sa.Connection) -> None:
        """Build the Merkle tree over events stored before it existed (migration to version 3)."""
        sa = self._sa
        events, nodes = self.tables["events"], self.tables["merkle_nodes"]
        size, after = 0, 0
        frontier: dict[merkle.Node, bytes] = {}
        while True:
            page = conn.execute(sa.select(events.c.seq, events.c.hash).where(events.c.seq > after)
                                .order_by(events.c.seq).limit(PAGE)).all()
            if not page:
                return
            made = merkle.new_nodes(size, [event_leaf(str(h)) for _, h in page], frontier)
            conn.execute(nodes.insert(), [{"level": lv, "idx": ix, "hash": h.hex()} for (lv, ix), h in made.items()])
            size += len(page)
            frontier = {**frontier, **made}
            frontier = {n: frontier[n] for n in merkle.frontier_of(size)}
            after = int(page[-1][0])

    @_boundary
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

    @_boundary
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
            self._grow_tree(conn, size=rows[0]["seq"] - 1, leaves=[event_leaf(r["hash"]) for r in rows])
        return tuple(out)

    def _grow_tree(self, conn: sa.Connection, *, size: int, leaves: Sequence[bytes]) -> None:
        """Add the new events' leaves and completed subtrees; sign the new head if this writer has the key."""
        fetch = self._fetcher(conn)
        frontier = dict(fetch(merkle.frontier_of(size)))
        made = merkle.new_nodes(size, leaves, frontier)
        conn.execute(self.tables["merkle_nodes"].insert(),
                     [{"level": lv, "idx": ix, "hash": h.hex()} for (lv, ix), h in made.items()])
        if self.signer is not None:
            new_size = size + len(leaves)
            known = {**frontier, **made}
            head = merkle.root(new_size, lambda wanted: {n: known[n] for n in wanted})
            self._store_checkpoint(conn, self.signer.sign(
                checkpoints.Checkpoint(origin=self.signer.name, size=new_size, root=head)))

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

    @_boundary
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

    @_boundary
    def verify(self, *, anchor: str | None = None, anchor_seq: int | None = None,
               tree: merkle.Builder | None = None) -> audit_events.ChainReport:
        """Recompute the chain (and, into ``tree``, the Merkle tree); ``anchor`` is a hash recorded earlier."""
        sa = self._sa
        events = self.tables["events"]

        def locate(digest: str) -> int | None:
            with self.engine.connect() as conn:
                found = conn.execute(sa.select(events.c.seq).where(events.c.hash == digest)).scalar()
            return None if found is None else int(found)

        return chaining.verify(self._rows(), locate=locate, anchor=anchor, anchor_seq=anchor_seq, tree=tree)

    @_boundary
    def event(self, seq: int) -> audit_events.LedgerEvent | None:
        sa = self._sa
        events = self.tables["events"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(events).where(events.c.seq == seq)).first()
        return _event(tuple(row)) if row else None

    def last_hash(self) -> str | None:
        last = self.last_event()
        return last.hash if last else None

    @_boundary
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

    @_boundary
    def count(self) -> int:
        sa = self._sa
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self.tables["events"])).scalar() or 0)

    # -- the Merkle tree and signed checkpoints ----------------------------------------------------

    def _fetcher(self, conn: sa.Connection) -> merkle.Fetch:
        """Stored perfect subtrees, all asked for in one query; a missing one is a damaged tree."""
        mark = "?" if self.dialect == "sqlite" else "%s"

        def fetch(wanted: Sequence[merkle.Node]) -> dict[merkle.Node, bytes]:
            if not wanted:
                return {}
            # One OR of exact primary-key matches, as plain driver SQL: each term is answered from the
            # index (SQLite would scan for a row-value IN list), and building a SQLAlchemy expression of
            # forty terms would cost more than the proof itself (the inclusion-proof benchmark).
            where = " OR ".join([f"(level = {mark} AND idx = {mark})"] * len(wanted))
            params = tuple(v for node in wanted for v in node)
            rows = conn.exec_driver_sql(f"SELECT level, idx, hash FROM merkle_nodes WHERE {where}", params).all()
            found = {(int(lv), int(ix)): bytes.fromhex(h) for lv, ix, h in rows}
            if lost := [n for n in wanted if n not in found]:
                level, index = lost[0]
                first = index * (1 << level) + 1
                raise BackendError(f"the ledger's Merkle tree lacks the node over events {first}.."
                                   f"{first + (1 << level) - 1} (level {level}): it was deleted or never written")
            return found

        return fetch

    def tree_size(self) -> int:
        """How many events the tree holds: the last event's number (events are numbered without gaps)."""
        last = self.last_event()
        return last.seq if last else 0

    @_boundary
    def tree_root(self, size: int) -> bytes:
        with self.engine.connect() as conn:
            return merkle.root(size, self._fetcher(conn))

    @_boundary
    def inclusion_proof(self, *, index: int, size: int) -> list[bytes]:
        with self.engine.connect() as conn:
            return merkle.inclusion_proof(index, size, self._fetcher(conn))

    @_boundary
    def consistency_proof(self, *, old: int, new: int) -> list[bytes]:
        with self.engine.connect() as conn:
            return merkle.consistency_proof(old, new, self._fetcher(conn))

    @_boundary
    def stored_leaves(self) -> Iterator[bytes]:
        """The stored leaf hashes in order (level 0), a page per short transaction."""
        sa = self._sa
        nodes = self.tables["merkle_nodes"]
        after = -1
        while True:
            query = (sa.select(nodes.c.idx, nodes.c.hash).where(nodes.c.level == 0, nodes.c.idx > after)
                     .order_by(nodes.c.idx).limit(PAGE))
            with self.engine.connect() as conn:
                page = conn.execute(query).all()
            for _, digest in page:
                yield bytes.fromhex(digest)
            if len(page) < PAGE:
                return
            after = int(page[-1][0])

    def _store_checkpoint(self, conn: sa.Connection, note: checkpoints.SignedCheckpoint) -> None:
        table = self.tables["checkpoints"]
        size = note.checkpoint.size
        conn.execute(table.delete().where(table.c.size == size))
        conn.execute(table.insert().values(size=size, root=note.checkpoint.root.hex(), note=note.text(),
                                           signed_at=audit_events.stamp(datetime.now(UTC))))

    @_boundary
    def sign_head(self, signer: signing.Signer) -> checkpoints.SignedCheckpoint:
        """Sign the current tree head with ``signer`` and store the checkpoint (under the write lock)."""
        sa = self._sa
        events = self.tables["events"]
        with self._writing() as conn:
            size = int(conn.execute(sa.select(sa.func.max(events.c.seq))).scalar() or 0)
            head = merkle.root(size, self._fetcher(conn))
            note = signer.sign(checkpoints.Checkpoint(origin=signer.name, size=size, root=head))
            self._store_checkpoint(conn, note)
        return note

    @_boundary
    def newest_checkpoint(self) -> tuple[int, str] | None:
        """``(size, note text)`` of the stored checkpoint of the most events, or None."""
        sa = self._sa
        table = self.tables["checkpoints"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table.c.size, table.c.note).order_by(table.c.size.desc()).limit(1)).first()
        return (int(row[0]), str(row[1])) if row else None

    @_boundary
    def event_hashes(self) -> Iterator[str]:
        """Every event's stored hash in ``seq`` order (for rebuilding the tree in memory)."""
        for row in self._rows():
            yield row[9]

    @_boundary
    def stored_checkpoints(self) -> tuple[tuple[int, str], ...]:
        """``(size, note text)`` of every stored checkpoint, smallest first (unverified: see ops.auditing)."""
        sa = self._sa
        table = self.tables["checkpoints"]
        with self.engine.connect() as conn:
            return tuple((int(size), str(note)) for size, note in
                         conn.execute(sa.select(table.c.size, table.c.note).order_by(table.c.size)).all())

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


def event_leaf(event_hash: str) -> bytes:
    """The Merkle leaf of an event: RFC 6962's leaf hash of the 32 bytes of its chain hash."""
    return merkle.leaf_hash(bytes.fromhex(event_hash))


def _check_kind(kind: str) -> None:
    if not kind or not all(c.islower() or c.isdigit() or c == "-" for c in kind):
        raise UserError(f"event kind {kind!r} must be kebab-case (like {audit_events.ACTION_TAKEN!r})")


def _event(row: chaining.Row) -> audit_events.LedgerEvent:
    import json

    seq, at, kind, actor, subject, before, after, reason, prev, digest = row
    return audit_events.LedgerEvent(seq=int(seq), at=audit_events.parse_stamp(at), kind=kind, actor=actor,
                             subject=json.loads(subject), before=json.loads(before), after=json.loads(after),
                             reason=reason, prev_hash=prev, hash=digest)
