"""Opening dctenant's SQL stores the one right way: SQLite or PostgreSQL, for writing or read-only.

The ledger and the self-service store share a database and used to set it up twice. The rules
they need are the same, so they live here once: a path or URL becomes a SQLAlchemy engine; SQLite
runs in WAL mode with a long busy timeout and takes its write lock up front when asked
(``BEGIN IMMEDIATE``), so concurrent writers queue instead of failing; PostgreSQL goes through
psycopg. A read-only open never creates a file or a table (a verifier must not invent an empty,
"intact" ledger where there is none): SQLite opens the file with ``mode=ro`` and PostgreSQL
sessions are read-only. An in-memory SQLite database (tests, fakes) is one database shared by every
connection, not one per connection. Schema versions are a table of applied versions
(``version_table``) filled by ``migrate``. SQLAlchemy is imported lazily: ``dctenant --help`` must
not pay for it.
"""

from __future__ import annotations

import pathlib
import urllib.parse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dctenant.errors import BackendError, UserError

if TYPE_CHECKING:
    import sqlalchemy as sa

WRITE_OPTION = "dctenant_write"  # execution option: this transaction takes the write lock first


def sqlalchemy_url(url: str, *, read_only: bool = False, what: str = "database") -> str:
    """A SQLAlchemy URL from a file path, a ``sqlite://`` URL or a ``postgresql://`` URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and read_only:
        url = url[len("sqlite:///"):]
    if "://" not in url:
        path = pathlib.Path(url).expanduser()
        if read_only:
            if not path.is_file():
                raise BackendError(f"no {what} at {path}: nothing to read (a missing {what} is never created "
                                   "by a read-only command; check --ledger or $DCTENANT_LEDGER)")
            return f"sqlite:///file:{urllib.parse.quote(str(path.resolve()))}?mode=ro&uri=true"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create the {what}'s directory {path.parent}: {exc}") from exc
        return f"sqlite:///{path}"
    if not url.startswith(("sqlite", "postgresql")):
        raise UserError(f"{what} {url!r}: only SQLite and PostgreSQL are supported", location="--ledger")
    return url


def create_engine(url: str, *, read_only: bool = False, what: str = "database", writes_by_default: bool = False,
                  pool_size: int | None = None, max_overflow: int | None = None) -> sa.Engine:
    """An engine for ``url`` with dctenant's connection rules (see the module docstring).

    A SQLite transaction takes the write lock at BEGIN when its connection has the execution
    option ``WRITE_OPTION`` true; ``writes_by_default`` makes that the default, for a store whose
    transactions check and then write (a reader passes ``WRITE_OPTION: False``). ``pool_size`` and
    ``max_overflow`` size a PostgreSQL connection pool (a server answering many requests at once);
    SQLite ignores them.
    """
    import sqlalchemy as sa
    from sqlalchemy import event

    target = sqlalchemy_url(url, read_only=read_only, what=what)
    kwargs: dict[str, Any] = {}
    if target.startswith("postgresql"):
        if read_only:
            kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
        if pool_size is not None or max_overflow is not None:
            # A replica restarted behind a pool must not hand out dead connections.
            kwargs["pool_pre_ping"] = True
        kwargs.update({k: v for k, v in (("pool_size", pool_size), ("max_overflow", max_overflow)) if v is not None})
    elif target in ("sqlite://", "sqlite:///:memory:"):
        # Each connection would otherwise open its own, empty, in-memory database.
        kwargs.update(poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
    try:
        engine = sa.create_engine(target, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise UserError(f"cannot use {what} {url!r}: {exc}", location="--ledger") from exc
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            # Take transaction control from the driver, so that writers can BEGIN IMMEDIATE.
            dbapi.isolation_level = None
            cursor = dbapi.cursor()
            cursor.execute("PRAGMA busy_timeout = 60000")
            if not read_only:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            immediate = conn.get_execution_options().get(WRITE_OPTION, writes_by_default)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
    return engine


def one_line(exc: BaseException, *, where: str) -> BackendError:
    """A database error as the one line a user can act on (not a SQLAlchemy traceback)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if "file is not a database" in text or "file is encrypted" in text:
        return BackendError(f"{where} is not a dctenant database (SQLite says: {text})")
    return BackendError(f"cannot use the database at {where}: {text}")


def version_table(meta: sa.MetaData, name: str = "schema_version") -> sa.Table:
    """The table of applied schema versions: one row per version, with when it was applied."""
    import sqlalchemy as sa

    return sa.Table(name, meta, sa.Column("version", sa.Integer, primary_key=True),
                    sa.Column("applied_at", sa.Text, nullable=False))


def current_version(conn: sa.Connection, table: sa.Table) -> int:
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table(table.name):
        return 0
    return int(conn.execute(sa.select(sa.func.max(table.c.version))).scalar() or 0)


def migrate(conn: sa.Connection, table: sa.Table, steps: tuple[tuple[int, Any], ...], *, known: int,
            where: str) -> list[int]:
    """Apply the steps newer than the stored version, in order, inside the caller's locked transaction.

    Each step is ``(version, apply)`` where ``apply(conn)`` creates or fills what it adds. A stored
    version newer than ``known`` is refused: an older dctenant must not write to a newer schema.
    """
    table.create(conn, checkfirst=True)
    current = current_version(conn, table)
    if current > known:
        raise BackendError(f"the database at {where} has schema version {current}, newer than this dctenant "
                           f"knows ({known}); upgrade dctenant")
    applied = []
    for version, apply in steps:
        if version > current:
            apply(conn)
            conn.execute(table.insert().values(version=version, applied_at=_now()))
            applied.append(version)
    return applied


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
