"""The registry's PostgreSQL: the embedded cluster docgen starts under its data dir (as the
``postgres`` system user when run as root), reused by a second command while one runs, and
database URLs whatever their password holds."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import anyio
import psycopg
import pytest
from sqlalchemy import text

from docgen.registry.cluster import ClusterError, EmbeddedPostgres, _Account, find_bin_dir
from docgen.registry.db import Database, migrate, registry_url
from tests.people import PASSWORD
from tests.postgres import database_url, registry

REPO = Path(__file__).resolve().parent.parent
AS_ROOT = os.geteuid() == 0


def answers(cluster: EmbeddedPostgres, port: int) -> bool:
    password = cluster.password_path.read_text().strip()
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="docgen", password=password, dbname="docgen"
        ) as connection:
            return connection.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def test_the_cluster_is_made_once_reused_while_running_and_stopped_by_its_starter(
    reachable_dir: Path,
) -> None:
    first = EmbeddedPostgres(reachable_dir / "postgres")
    first.start()
    try:
        port = first.port
        assert answers(first, port)
        password = first.password_path
        assert stat.S_IMODE(password.stat().st_mode) == 0o600
        assert password.stat().st_uid == os.geteuid()
        if AS_ROOT:  # PostgreSQL refuses root: the cluster belongs to the system user
            assert first.cluster_dir.stat().st_uid != 0
            assert first.data_dir.stat().st_uid == first.cluster_dir.stat().st_uid

        # A command while the service runs: it joins the running server, and leaving does
        # not stop it.
        second = EmbeddedPostgres(reachable_dir / "postgres")
        second.start()
        assert second.port == port
        second.stop()
        assert answers(first, port)
    finally:
        first.stop()
    assert not answers(first, port)

    # Started again: the same cluster (no new initdb), with the same password.
    again = EmbeddedPostgres(reachable_dir / "postgres")
    again.start()
    try:
        assert answers(again, again.port)
    finally:
        again.stop()


def test_a_data_dir_the_system_user_cannot_reach_is_refused_with_the_reason(
    reachable_dir: Path,
) -> None:
    private = reachable_dir / "private"
    private.mkdir(mode=0o700, parents=True)
    cluster = EmbeddedPostgres(private / "var" / "postgres")
    with pytest.raises(ClusterError, match="cannot enter") as refused:
        if AS_ROOT:  # as make run is started here: the public way in
            cluster.start()
        else:  # the same check, for the account root would hand the cluster to
            entry = pwd.getpwnam("postgres")
            groups = frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid))
            cluster._prepare_dir(_Account(entry.pw_uid, entry.pw_gid, groups, entry.pw_name))
    assert str(private) in str(refused.value) and "DOCGEN_DATABASE_URL" in str(refused.value)


def without_docgen_settings() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("DOCGEN_")}


def cluster_running(cluster: EmbeddedPostgres) -> bool:
    status = subprocess.run(
        ["runuser", "-u", "postgres", "--"] * AS_ROOT
        + [str(find_bin_dir() / "pg_ctl"), "status", "-D", str(cluster.cluster_dir)],
        capture_output=True,
        check=False,
    )
    return status.returncode == 0


def test_migrate_and_users_add_without_a_database_url_use_the_embedded_cluster_and_stop_it(
    reachable_dir: Path,
) -> None:
    def docgen(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "docgen", *args],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**without_docgen_settings(), "DOCGEN_DATA_DIR": str(reachable_dir)},
            timeout=120,
            check=False,
        )

    migrated = docgen("migrate")
    assert migrated.returncode == 0, migrated.stderr
    done = docgen("users", "add", "--username", "ani", "--role", "admin", "--password-stdin")
    assert done.returncode == 0, done.stderr
    cluster = EmbeddedPostgres(reachable_dir / "postgres")
    assert not cluster_running(cluster)  # the command stopped what it started
    cluster.start()
    try:
        with registry(cluster.url().render_as_string(hide_password=False)) as connection:
            users = connection.execute("SELECT username, role FROM users").fetchall()
        assert users == [("ani", "admin")]
    finally:
        cluster.stop()


# --- URLs --------------------------------------------------------------------------------

PASSWORDS = ["p@ss%word", "50%/off:#?&=", "a b'c\"d\\e"]


@pytest.mark.parametrize("password", PASSWORDS)
def test_any_password_works_in_the_database_url(tmp_path: Path, password: str) -> None:
    own = registry_url(database_url(tmp_path))  # an empty database of the session's cluster
    role = f"r_{uuid.uuid4().hex[:12]}"
    with registry(own.render_as_string(hide_password=False)) as connection:
        connection.execute(
            psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(role), psycopg.sql.Literal(password)
            )
        )
        connection.execute(
            psycopg.sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                psycopg.sql.Identifier(own.database or ""), psycopg.sql.Identifier(role)
            )
        )
    # As an operator writes it: percent-encoded in DOCGEN_DATABASE_URL.
    written = f"postgresql://{role}:{quote(password, safe='')}@{own.host}:{own.port}/{own.database}"
    migrate(written)

    async def count_units() -> int:
        db = Database(written)
        try:
            async with db.session() as session:
                return int((await session.execute(text("SELECT count(*) FROM units"))).scalar_one())
        finally:
            await db.close()

    assert anyio.run(count_units) == 0


@pytest.mark.parametrize("url", ["sqlite:///var/docgen.db", "mysql://u:p@localhost/docgen"])
def test_a_database_other_than_postgresql_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        registry_url(url)


def test_a_cluster_left_running_by_a_dead_docgen_is_taken_over_and_stopped(
    reachable_dir: Path,
) -> None:
    # A process that starts the cluster and dies without stopping it (as under kill -9).
    left = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; from pathlib import Path; "
            "from docgen.registry.cluster import EmbeddedPostgres; "
            "c = EmbeddedPostgres(Path(sys.argv[1])); c.start(); print(c.port, flush=True); "
            "os._exit(0)",
            str(reachable_dir / "postgres"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    port = int(left.stdout)
    cluster = EmbeddedPostgres(reachable_dir / "postgres")
    assert answers(cluster, port)
    cluster.start()
    assert cluster.port == port  # the running server, not a second one
    cluster.stop()
    assert not answers(cluster, port)
