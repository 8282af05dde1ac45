"""Database engine, sessions and migrations (PostgreSQL, with psycopg 3 sync and async)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import anyio
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, event, func, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

from docgen.registry.cluster import EmbeddedPostgres
from docgen.settings import Settings

__all__ = [
    "MIGRATIONS",
    "Database",
    "SchemaNotCurrent",
    "alembic_config",
    "migrate",
    "registry_url",
    "require_current_schema",
    "registry_running",
    "running_registry",
    "where",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Keys of PostgreSQL advisory locks (one 64-bit space per database; the values only need to
# differ from each other and from anything else locking in the same database).
WRITE_LOCK = 0x646F_6367_656E_0001  # a write phase (number sequences, the audit chain's head)
MIGRATION_LOCK = 0x646F_6367_656E_0002  # a migration


def registry_url(url: str | URL) -> URL:
    """``url`` as the service uses it: PostgreSQL through psycopg 3 (sync and async alike).

    Parsed by SQLAlchemy, never pasted together: a password with ``@``, ``%`` or ``/`` comes
    percent-encoded in the text form and goes to the driver as it is.

    Raises:
        ValueError: not a PostgreSQL URL.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(
            f"DOCGEN_DATABASE_URL must name a PostgreSQL database, not {parsed.drivername!r}"
        )
    return parsed.set(drivername="postgresql+psycopg")


def where(url: URL) -> str:
    """host:port/database of the registry at ``url``, for people (no user, no password)."""
    return f"{url.host}:{url.port or 5432}/{url.database}"


@contextmanager
def registry_running(settings: Settings) -> Iterator[URL]:
    """The registry's URL: ``DOCGEN_DATABASE_URL``, else the embedded cluster under the data
    dir, started for the block (or found running) and stopped after it if started here.

    Raises:
        ValueError: DOCGEN_DATABASE_URL is not a PostgreSQL URL.
        docgen.registry.cluster.ClusterError: the embedded cluster cannot start.
    """
    if settings.database_url:
        yield registry_url(settings.database_url)
        return
    cluster = EmbeddedPostgres(settings.data_dir / "postgres")
    cluster.start()
    try:
        yield cluster.url()
    finally:
        cluster.stop()


@asynccontextmanager
async def running_registry(settings: Settings) -> AsyncIterator[URL]:
    """:func:`registry_running` for async code: the cluster starts and stops in a thread."""
    running = registry_running(settings)
    url = await anyio.to_thread.run_sync(running.__enter__)
    try:
        yield url
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(running.__exit__, None, None, None)


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration for running migrations on ``connection``.

    The connection goes in as an attribute, not as a URL option: Alembic's options are
    ConfigParser values, where a ``%`` (as in an encoded password) breaks interpolation.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def migrate(url: str | URL) -> None:
    """Bring the schema to the newest revision (idempotent).

    One migration at a time on a database: instances started together wait for each other
    (a session-level advisory lock), and the later ones find the schema current.
    """
    engine = create_engine(registry_url(url))
    try:
        with engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(MIGRATION_LOCK)))
            connection.commit()
            try:
                with connection.begin():
                    command.upgrade(alembic_config(connection), "head")
            finally:
                connection.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK)))
                connection.commit()
    finally:
        engine.dispose()


class SchemaNotCurrent(RuntimeError):
    """The registry's schema is not the one this docgen was made for (its message says which
    revisions, in Indonesian, for the operator)."""


def require_current_schema(url: str | URL) -> str:
    """The registry's revision, when it is the newest this docgen knows.

    For processes that must not migrate on their own (``docgen worker``): the schema is
    ``docgen migrate``'s to change.

    Raises:
        SchemaNotCurrent: the registry is older (or newer) than this docgen.
        sqlalchemy.exc.OperationalError: the registry cannot be reached.
    """
    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
    engine = create_engine(registry_url(url))
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    if current != heads:
        found = ", ".join(sorted(current)) or "kosong"
        raise SchemaNotCurrent(
            f"skema registri belum sesuai (revisi {found}, versi docgen ini memerlukan "
            f"{', '.join(sorted(heads))}): jalankan `docgen migrate` dengan versi docgen ini"
        )
    return ", ".join(sorted(current))


class _WritingSession(Session):
    """A session whose every transaction starts by taking the deployment's write lock."""


@event.listens_for(_WritingSession, "after_begin")
def _take_write_lock(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    # Transaction-level: PostgreSQL releases it at commit or rollback, also when the
    # connection dies with its process.
    connection.execute(select(func.pg_advisory_xact_lock(WRITE_LOCK)))


class Database:
    """The registry's engine and sessions.

    Writes that read and extend shared state (number sequences, the head of the audit chain)
    go through :meth:`writing`: one at a time on the whole database, whichever instance makes
    them; everything else through :meth:`session`.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 30.0,
        pre_ping: bool = True,
    ) -> None:
        self.url = registry_url(url)
        # pre_ping: a connection the registry dropped (a restart) is replaced, not handed out.
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_pre_ping=pre_ping,
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writing = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=_WritingSession
        )
        # Queues this process's writers before they take a pooled connection each just to
        # wait on the database's lock (which alone keeps instances apart).
        self._queue = anyio.Lock()

    @classmethod
    def of(cls, url: str | URL, settings: Settings) -> Database:
        """The registry at ``url`` with the pool ``settings`` ask for (DOCGEN_DATABASE_POOL_*,
        DOCGEN_DATABASE_MAX_OVERFLOW, DOCGEN_DATABASE_PRE_PING)."""
        return cls(
            url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_timeout=settings.database_pool_timeout,
            pre_ping=settings.database_pre_ping,
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session for a short write phase; the caller commits.

        Each of its transactions holds PostgreSQL's transaction-level advisory lock
        ``WRITE_LOCK`` from its first statement to its commit or rollback, so write phases
        follow each other across every instance on the database: two can never extend the
        audit chain from the same head (the unique ``prev_hash`` would refuse the second).
        """
        async with self._queue, self._writing() as session:
            yield session

    @property
    def where(self) -> str:
        """host:port/database, for people (no user, no password)."""
        return where(self.url)

    async def close(self) -> None:
        await self.engine.dispose()
