"""The self-service API's own state: tokens, namespace reservations, idempotency keys, increase requests.

Why a database and not files: many requests for one tenant arrive at once, and together they must
never take more than the tenant's envelope. Each create or resize reserves its quota in one
transaction that first takes a per-tenant lock, reads the tenant's reservations, asks the caller's
pure check whether the new one still fits, and only then writes it. On SQLite the lock is the
database write lock (``BEGIN IMMEDIATE``, taken by every transaction but a read); on PostgreSQL a
transaction-scoped advisory lock per tenant, so different tenants never wait for each other.

The tables live beside the audit ledger's (same URL, ``ss_`` prefix, their own schema version in
``ss_schema_version``). The engine and the migrations follow the same rules as the ledger's
(``clients.sqlstores``).
Tokens are kept only as a random salt and a SHA-256 digest of salt and secret: the secrets are
256 random bits, so a slow password hash would add latency and no safety. Times are stored as
ISO-8601 UTC text so that SQLite and PostgreSQL hold exactly the same values.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import pathlib
import zlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dctenant.clients import sqlstores
from dctenant.errors import BackendError, missing

if TYPE_CHECKING:
    import sqlalchemy as sa

SCHEMA_VERSION = 3
# What version 2 added to version 1's tables, column by column (``ALTER TABLE … ADD COLUMN``).
_ADDED_IN_2 = (("ss_idempotency", "status", "INTEGER"), ("ss_idempotency", "response", "TEXT"),
               ("ss_requests", "mode", "VARCHAR(8) DEFAULT 'to' NOT NULL"), ("ss_requests", "before", "TEXT"),
               ("ss_requests", "result", "TEXT"), ("ss_requests", "exported_at", "VARCHAR(40)"))
# Version 3: a token's role ("auditor": read-only, every tenant; NULL: staff or tenant by ``tenant``).
_ADDED_IN_3 = (("ss_tokens", "role", "VARCHAR(16)"),)
FILE_NAME = "selfservice.db"
# The PostgreSQL advisory lock that serialises migrations of the self-service tables (replicas
# starting together); the per-tenant locks are derived from other text, so they never collide.
_MIGRATION_LOCK = zlib.crc32(b"dctenant-selfservice-schema") - 2**31


@dataclass(frozen=True, kw_only=True)
class TokenRow:
    """A stored token: never the secret, only its salted digest."""

    id: str
    tenant: str | None  # None: a staff token
    salt: str
    digest: str
    created_at: dt.datetime
    expires_at: dt.datetime
    created_by: str
    note: str
    revoked_at: dt.datetime | None = None
    role: str | None = None  # "auditor", or None (staff when tenant is None, else a tenant token)


@dataclass(frozen=True, kw_only=True)
class NamespaceRow:
    """A self-service namespace: ``reserved`` while being applied, ``active`` once in the cluster."""

    name: str
    tenant: str
    pool: str
    quota: Mapping[str, str]  # resource key -> plain decimal string in base units
    state: str
    created_at: dt.datetime
    created_by: str


@dataclass(frozen=True, kw_only=True)
class IdempotencyRow:
    """A key, the fingerprint of the normalised request it was first used with, and the first answer.

    ``status``/``response`` are None while the first request is still in progress.
    """

    tenant: str
    key: str
    fingerprint: str
    namespace: str
    created_at: dt.datetime
    status: int | None = None
    response: Mapping[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class RequestRow:
    """A tenant's request for a larger demand in one pool, and staff's decision on it.

    ``mode`` says how to read ``demand``: ``add`` (amounts added to the demand) or ``to`` (the new
    demand). An approval stores ``before`` and ``result``: the demand of the named resources
    before and after, absolute, so that a plan can take it in without redoing the arithmetic.
    ``exported_at`` is set once staff exported the change into quotas/ (``request export``).
    """

    id: int
    tenant: str
    pool: str
    demand: Mapping[str, str]
    reason: str
    state: str  # pending, approved, rejected
    created_at: dt.datetime
    created_by: str
    mode: str = "to"
    decided_at: dt.datetime | None = None
    decided_by: str = ""
    decision: str = ""
    before: Mapping[str, str] | None = None
    result: Mapping[str, str] | None = None
    exported_at: dt.datetime | None = None


def default_url() -> str:
    """The ledger's database (``$DCTENANT_LEDGER``); for its default SQLite file, a file beside it."""
    from dctenant.clients import ledger_db

    url = ledger_db.default_url()
    if "://" in url:
        return url
    return str(pathlib.Path(url).expanduser().with_name(FILE_NAME))


def store_url(database: str | None) -> str | None:
    """Where the self-service tables are for the ledger URL ``database`` (None: none configured).

    A database URL holds both; a SQLite ledger file has ``selfservice.db`` beside it.
    """
    if not database:
        return None
    if "://" in database:
        return database
    return str(pathlib.Path(database).expanduser().with_name(FILE_NAME))


def configured_url() -> str | None:
    """The self-service tables of the database ``$DCTENANT_LEDGER`` names; None when it is not set."""
    import os

    return store_url(os.environ.get("DCTENANT_LEDGER"))


def _tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    import sqlalchemy as sa

    text = sa.String
    return {
        "versions": sqlstores.version_table(metadata, "ss_schema_version"),
        # Versions 1 and 2 kept their version here alone; it is now a copy of ss_schema_version's
        # newest version, kept for dctenant releases before 2026-11-30, which read only this row and
        # refuse any version but their own (so they never write to a newer schema).
        "meta": sa.Table("ss_meta", metadata, sa.Column("key", text(64), primary_key=True),
                         sa.Column("value", text(200), nullable=False)),
        "tokens": sa.Table(
            "ss_tokens", metadata, sa.Column("id", text(32), primary_key=True),
            sa.Column("tenant", text(64), nullable=True, index=True), sa.Column("salt", text(64), nullable=False),
            sa.Column("digest", text(64), nullable=False), sa.Column("created_at", text(40), nullable=False),
            sa.Column("expires_at", text(40), nullable=False), sa.Column("revoked_at", text(40), nullable=True),
            sa.Column("created_by", text(200), nullable=False), sa.Column("note", text(500), nullable=False),
            sa.Column("role", text(16), nullable=True)),
        "namespaces": sa.Table(
            "ss_namespaces", metadata, sa.Column("name", text(63), primary_key=True),
            sa.Column("tenant", text(64), nullable=False, index=True), sa.Column("pool", text(64), nullable=False),
            sa.Column("quota", sa.Text, nullable=False), sa.Column("state", text(16), nullable=False),
            sa.Column("created_at", text(40), nullable=False), sa.Column("created_by", text(200), nullable=False)),
        "idempotency": sa.Table(
            "ss_idempotency", metadata, sa.Column("tenant", text(64), primary_key=True),
            sa.Column("key", text(200), primary_key=True), sa.Column("fingerprint", text(64), nullable=False),
            sa.Column("namespace", text(63), nullable=False), sa.Column("created_at", text(40), nullable=False),
            sa.Column("status", sa.Integer, nullable=True), sa.Column("response", sa.Text, nullable=True)),
        "requests": sa.Table(
            "ss_requests", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("tenant", text(64), nullable=False, index=True), sa.Column("pool", text(64), nullable=False),
            sa.Column("demand", sa.Text, nullable=False), sa.Column("reason", text(2000), nullable=False),
            sa.Column("state", text(16), nullable=False), sa.Column("created_at", text(40), nullable=False),
            sa.Column("created_by", text(200), nullable=False), sa.Column("decided_at", text(40), nullable=True),
            sa.Column("decided_by", text(200), nullable=False, default=""),
            sa.Column("decision", text(2000), nullable=False, default=""),
            sa.Column("mode", text(8), nullable=False, default="to"), sa.Column("before", sa.Text, nullable=True),
            sa.Column("result", sa.Text, nullable=True), sa.Column("exported_at", text(40), nullable=True)),
    }


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _parse(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _when(value: str) -> dt.datetime:
    parsed = _parse(value)
    if parsed is None:
        raise missing(f"the time {value!r}")
    return parsed


def _steps(metadata: sa.MetaData) -> tuple[tuple[int, Any], ...]:
    """The migrations, in order (``sqlstores.migrate``). Never edit a released step: add one.

    Version 1 creates the tables as they are now (those that exist are left alone), so a new
    database is complete after it; a later step that adds columns therefore adds only those still
    missing, and a new database passes through it unchanged.
    """
    def create(conn: sa.Connection) -> None:
        metadata.create_all(conn)

    def adding(columns: tuple[tuple[str, str, str], ...]) -> Any:
        def apply(conn: sa.Connection) -> None:
            import sqlalchemy as sa

            create(conn)  # a table an old database lacks is made whole; then the columns others lack
            inspector = sa.inspect(conn)
            for table, column, kind in columns:
                if column not in {c["name"] for c in inspector.get_columns(table)}:
                    conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        return apply

    return ((1, create), (2, adding(_ADDED_IN_2)), (3, adding(_ADDED_IN_3)))


class Store:
    """The self-service tables behind one database URL (SQLite file or PostgreSQL)."""

    def __init__(self, url: str | None = None) -> None:
        import sqlalchemy as sa

        self.url = url or default_url()
        # Every transaction but a read checks and then writes: on SQLite it takes the write lock at
        # BEGIN, or two reservations could read the same free amount before either writes.
        self.engine = sqlstores.create_engine(self.url, what="self-service database", writes_by_default=True,
                                              pool_size=20, max_overflow=40)
        self.dialect = self.engine.dialect.name
        self.metadata = sa.MetaData()
        self.t = _tables(self.metadata)
        try:
            self._migrate()
        except sa.exc.SQLAlchemyError as exc:
            self.engine.dispose()
            raise BackendError(f"cannot open the self-service database "
                               f"{self.engine.url.render_as_string(hide_password=True)}: {_short(exc)}") from None
        except BaseException:
            self.engine.dispose()
            raise

    def _migrate(self) -> None:
        """Bring the tables to ``SCHEMA_VERSION`` in one locked transaction (replicas may start together)."""
        import sqlalchemy as sa

        versions, meta = self.t["versions"], self.t["meta"]
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            versions.create(conn, checkfirst=True)
            if sqlstores.current_version(conn, versions) == 0 and sa.inspect(conn).has_table(meta.name):
                # A database of versions 1 or 2: its versions become applied ones, then migrate goes on.
                old = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
                for version in range(1, int(old or 0) + 1):
                    conn.execute(versions.insert().values(version=version, applied_at="before ss_schema_version"))
            sqlstores.migrate(conn, versions, _steps(self.metadata), known=SCHEMA_VERSION,
                              where=self.engine.url.render_as_string(hide_password=True))
            mirrored = conn.execute(meta.update().where(meta.c.key == "schema_version")
                                    .values(value=str(SCHEMA_VERSION)))
            if not mirrored.rowcount:
                conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def transaction(self, *, tenant: str | None = None, read: bool = False) -> Iterator[Transaction]:
        """One transaction; with ``tenant``, serialised with every other transaction for that tenant.

        ``read`` promises no writes: on SQLite it then takes no write lock (the others always do).
        """
        import sqlalchemy as sa

        try:
            with self.engine.connect() as plain:
                # Every other transaction takes SQLite's write lock at BEGIN (the engine's default).
                conn = plain.execution_options(**{sqlstores.WRITE_OPTION: False}) if read else plain
                with conn.begin():
                    if tenant is not None and self.dialect == "postgresql":
                        key = zlib.crc32(f"dctenant-selfservice:{tenant}".encode()) - 2**31
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                    yield Transaction(conn, self.t)
        except sa.exc.IntegrityError as exc:
            raise DuplicateError(_short(exc)) from None
        except sa.exc.OperationalError as exc:
            raise BackendError(f"self-service database: {_short(exc)}") from None

    def read(self) -> contextlib.AbstractContextManager[Transaction]:
        """A transaction that only reads."""
        return self.transaction(read=True)


class DuplicateError(BackendError):
    """A row with the same key exists already (a namespace name taken by a concurrent request)."""


class Transaction:
    """Reads and writes inside one database transaction."""

    def __init__(self, conn: sa.Connection, tables: Mapping[str, sa.Table]) -> None:
        self.conn = conn
        self.t = tables

    # Tokens

    def add_token(self, row: TokenRow) -> None:
        self.conn.execute(self.t["tokens"].insert().values(
            id=row.id, tenant=row.tenant, salt=row.salt, digest=row.digest, created_at=_time(row.created_at),
            expires_at=_time(row.expires_at), revoked_at=_time(row.revoked_at), created_by=row.created_by,
            note=row.note, role=row.role))

    def token(self, token_id: str) -> TokenRow | None:
        import sqlalchemy as sa

        t = self.t["tokens"]
        row = self.conn.execute(sa.select(t).where(t.c.id == token_id)).mappings().first()
        return None if row is None else _token(row)

    def tokens(self, *, tenant: str | None = None) -> list[TokenRow]:
        import sqlalchemy as sa

        t = self.t["tokens"]
        query = sa.select(t).order_by(t.c.created_at, t.c.id)
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        return [_token(r) for r in self.conn.execute(query).mappings()]

    def revoke_token(self, token_id: str, *, at: dt.datetime) -> None:
        t = self.t["tokens"]
        self.conn.execute(t.update().where(t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=_time(at)))

    # Namespaces

    def namespaces(self, *, tenant: str | None = None) -> list[NamespaceRow]:
        import sqlalchemy as sa

        t = self.t["namespaces"]
        query = sa.select(t).order_by(t.c.name)
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        return [_namespace(r) for r in self.conn.execute(query).mappings()]

    def namespace(self, name: str) -> NamespaceRow | None:
        import sqlalchemy as sa

        t = self.t["namespaces"]
        row = self.conn.execute(sa.select(t).where(t.c.name == name)).mappings().first()
        return None if row is None else _namespace(row)

    def add_namespace(self, row: NamespaceRow) -> None:
        self.conn.execute(self.t["namespaces"].insert().values(
            name=row.name, tenant=row.tenant, pool=row.pool, quota=_json(row.quota), state=row.state,
            created_at=_time(row.created_at), created_by=row.created_by))

    def set_namespace(self, name: str, *, quota: Mapping[str, str], state: str) -> None:
        t = self.t["namespaces"]
        self.conn.execute(t.update().where(t.c.name == name).values(quota=_json(quota), state=state))

    def remove_namespace(self, name: str) -> None:
        t = self.t["namespaces"]
        self.conn.execute(t.delete().where(t.c.name == name))

    # Idempotency keys

    def idempotency(self, *, tenant: str, key: str) -> IdempotencyRow | None:
        import sqlalchemy as sa

        t = self.t["idempotency"]
        row = self.conn.execute(sa.select(t).where(t.c.tenant == tenant, t.c.key == key)).mappings().first()
        if row is None:
            return None
        response = row["response"]
        return IdempotencyRow(tenant=row["tenant"], key=row["key"], fingerprint=row["fingerprint"],
                              namespace=row["namespace"], created_at=_when(row["created_at"]),
                              status=row["status"], response=None if response is None else json.loads(response))

    def add_idempotency(self, row: IdempotencyRow) -> None:
        self.conn.execute(self.t["idempotency"].insert().values(
            tenant=row.tenant, key=row.key, fingerprint=row.fingerprint, namespace=row.namespace,
            created_at=_time(row.created_at), status=row.status,
            response=None if row.response is None else json.dumps(row.response, sort_keys=True)))

    def answer_idempotency(self, *, tenant: str, key: str, status: int, response: Mapping[str, Any]) -> None:
        """Store the first answer given to ``key``, which every replay returns."""
        t = self.t["idempotency"]
        self.conn.execute(t.update().where(t.c.tenant == tenant, t.c.key == key).values(
            status=status, response=json.dumps(dict(response), sort_keys=True)))

    def expire_idempotency(self, *, tenant: str, before: dt.datetime) -> int:
        """Delete the tenant's keys first used at or before ``before``; how many were deleted."""
        t = self.t["idempotency"]
        done = self.conn.execute(t.delete().where(t.c.tenant == tenant, t.c.created_at <= _time(before)))
        return int(done.rowcount or 0)

    def remove_idempotency(self, *, tenant: str, key: str) -> None:
        t = self.t["idempotency"]
        self.conn.execute(t.delete().where(t.c.tenant == tenant, t.c.key == key))

    # Increase requests

    def add_request(self, *, tenant: str, pool: str, demand: Mapping[str, str], reason: str, at: dt.datetime,
                    by: str, mode: str = "to") -> int:
        result = self.conn.execute(self.t["requests"].insert().values(
            tenant=tenant, pool=pool, demand=_json(demand), reason=reason, state="pending", created_at=_time(at),
            created_by=by, decided_by="", decision="", mode=mode))
        key = result.inserted_primary_key
        if key is None:
            raise missing("the new request's id")
        return int(key[0])

    def requests(self, *, tenant: str | None = None, state: str | None = None) -> list[RequestRow]:
        import sqlalchemy as sa

        t = self.t["requests"]
        query = sa.select(t).order_by(t.c.id)
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        if state is not None:
            query = query.where(t.c.state == state)
        return [_request(r) for r in self.conn.execute(query).mappings()]

    def request(self, request_id: int) -> RequestRow | None:
        import sqlalchemy as sa

        t = self.t["requests"]
        row = self.conn.execute(sa.select(t).where(t.c.id == request_id)).mappings().first()
        return None if row is None else _request(row)

    def decide_request(self, request_id: int, *, state: str, by: str, decision: str, at: dt.datetime,
                       before: Mapping[str, str] | None = None, result: Mapping[str, str] | None = None) -> bool:
        """Record staff's decision; False when the request was no longer pending (decided concurrently)."""
        t = self.t["requests"]
        done = self.conn.execute(t.update().where(t.c.id == request_id, t.c.state == "pending").values(
            state=state, decided_by=by, decision=decision, decided_at=_time(at),
            before=None if before is None else _json(before), result=None if result is None else _json(result)))
        return bool(done.rowcount)

    def approved(self, *, tenant: str | None = None, exported: bool = False) -> list[RequestRow]:
        """Approved requests, in the order they were decided; by default those not yet exported to quotas/."""
        import sqlalchemy as sa

        t = self.t["requests"]
        query = sa.select(t).where(t.c.state == "approved").order_by(t.c.decided_at, t.c.id)
        query = query.where(t.c.exported_at.is_not(None) if exported else t.c.exported_at.is_(None))
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        return [_request(r) for r in self.conn.execute(query).mappings()]

    def mark_exported(self, request_ids: Collection[int], *, at: dt.datetime) -> int:
        """Mark approved requests as exported to quotas/ (from then on quotas/ carries them)."""
        t = self.t["requests"]
        done = self.conn.execute(t.update().where(t.c.id.in_(list(request_ids)), t.c.state == "approved",
                                                  t.c.exported_at.is_(None)).values(exported_at=_time(at)))
        return int(done.rowcount or 0)


def _json(value: Mapping[str, str]) -> str:
    return json.dumps(dict(value), sort_keys=True)


def _token(row: Mapping[Any, Any]) -> TokenRow:
    return TokenRow(id=row["id"], tenant=row["tenant"], salt=row["salt"], digest=row["digest"],
                    created_at=_when(row["created_at"]), expires_at=_when(row["expires_at"]),
                    revoked_at=_parse(row["revoked_at"]), created_by=row["created_by"], note=row["note"],
                    role=row["role"])


def _namespace(row: Mapping[Any, Any]) -> NamespaceRow:
    return NamespaceRow(name=row["name"], tenant=row["tenant"], pool=row["pool"], quota=json.loads(row["quota"]),
                        state=row["state"], created_at=_when(row["created_at"]), created_by=row["created_by"])


def _request(row: Mapping[Any, Any]) -> RequestRow:
    before, result = row["before"], row["result"]
    return RequestRow(id=int(row["id"]), tenant=row["tenant"], pool=row["pool"], demand=json.loads(row["demand"]),
                      reason=row["reason"], state=row["state"], created_at=_when(row["created_at"]),
                      created_by=row["created_by"], mode=row["mode"] or "to", decided_at=_parse(row["decided_at"]),
                      decided_by=row["decided_by"] or "", decision=row["decision"] or "",
                      before=None if before is None else json.loads(before),
                      result=None if result is None else json.loads(result), exported_at=_parse(row["exported_at"]))


def digest(*, salt: str, secret: str) -> str:
    """The stored form of a token's secret: SHA-256 of salt and secret, hex."""
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def _short(exc: BaseException) -> str:
    """The driver's message without SQL text or parameters (which could hold token digests)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).splitlines()[0] if str(orig or exc) else type(exc).__name__
    return text[:300]
