"""The test session's PostgreSQL cluster: one database per service data dir, and plain
connections to read or set up what the API does not show."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from docgen.registry.cluster import EmbeddedPostgres
from docgen.registry.db import alembic_config, registry_url

__all__ = ["database_url", "downgrade", "registry", "stop_session_cluster", "upgrade"]


class _SessionCluster:
    """The test session's PostgreSQL cluster (started on first use, by the service's own
    cluster module), holding one database per service data dir."""

    def __init__(self) -> None:
        self._cluster: EmbeddedPostgres | None = None

    def database_url(self, data_dir: Path) -> str:
        """The URL of ``data_dir``'s database, made empty on first use: a service started
        again on the same data dir finds its registry again, as with a database file."""
        if self._cluster is None:
            # Not under pytest's base temp dir: that is private to root (mode 0700), and the
            # cluster runs as the postgres system user.
            where = Path(tempfile.mkdtemp(prefix="docgen-test-pg-"))
            where.chmod(0o755)
            cluster = EmbeddedPostgres(
                where / "postgres",
                # Throwaway data: no waiting for the disk at each commit.
                settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
            )
            cluster.start()
            self._cluster = cluster
        name = "t_" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:20]
        self._cluster.create_database(name)
        return self._cluster.url(name).render_as_string(hide_password=False)

    def stop(self) -> None:
        cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.stop()
            shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)


_CLUSTER = _SessionCluster()


def database_url(data_dir: Path) -> str:
    """The registry URL a service (or ``docgen users add``) on ``data_dir`` uses in tests."""
    return _CLUSTER.database_url(data_dir)


def registry(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A plain connection to the registry at ``url`` (``Service.database_url``), for reading
    or setting up what the API does not show; as a context manager it commits and closes."""
    parsed = make_url(url)
    return psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
    )


def stop_session_cluster() -> None:
    """Stop the session's cluster (if a test started it) and remove its files."""
    _CLUSTER.stop()


def downgrade(url: str, revision: str) -> None:
    """Migrate the registry at ``url`` down to ``revision`` (to make an older one)."""
    _migrate(url, command.downgrade, revision)


def upgrade(url: str, revision: str) -> None:
    """Migrate the registry at ``url`` up to ``revision`` (``head``, or to make an older one)."""
    _migrate(url, command.upgrade, revision)


def _migrate(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    engine = create_engine(registry_url(url))
    try:
        with engine.begin() as connection:
            step(alembic_config(connection), revision)
    finally:
        engine.dispose()
