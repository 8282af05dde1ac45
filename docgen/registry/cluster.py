"""A private PostgreSQL cluster (Debian's ``postgresql`` package) under the data dir, for
`make run`, the command line and the tests, as the embedded S3 server is for object storage.

Layout of ``data_dir`` (``<DOCGEN_DATA_DIR>/postgres``): ``cluster/`` (PGDATA) and
``server.log``; beside it, ``postgres.password`` (the superuser's, mode 0600, made by the first
start, readable by docgen only). The
cluster listens on 127.0.0.1 only, on a port free at its start, with password (SCRAM) login.
PostgreSQL refuses to run as root: started by root, every command runs as the ``postgres``
system user, who then owns ``data_dir``.
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import socket
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

__all__ = ["ClusterError", "EmbeddedPostgres", "find_bin_dir"]

SUPERUSER = "docgen"
SYSTEM_USER = "postgres"  # made by Debian's package; the cluster runs as it when we are root
_VERSIONS = ("17", "16", "15")
_COMMAND_TIMEOUT = 120.0


class ClusterError(RuntimeError):
    """The embedded PostgreSQL cluster cannot be made, started or reached."""


def find_bin_dir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` are (Debian keeps them off PATH).

    Raises:
        ClusterError: no PostgreSQL server package is installed.
    """
    for version in _VERSIONS:
        candidate = Path("/usr/lib/postgresql") / version / "bin"
        if (candidate / "pg_ctl").is_file():
            return candidate
    raise ClusterError(
        "PostgreSQL is not installed (Debian: apt-get install postgresql), "
        "or set DOCGEN_DATABASE_URL to a server"
    )


@dataclass(frozen=True)
class _Account:
    """Whom the cluster's commands run as: ourselves, or the system user when we are root."""

    uid: int
    gid: int
    groups: frozenset[int]
    name: str

    @classmethod
    def for_cluster(cls) -> _Account:
        if os.geteuid() != 0:
            return cls(os.geteuid(), os.getegid(), frozenset(os.getgroups()), "")
        try:
            entry = pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise ClusterError(
                f"running as root, and there is no '{SYSTEM_USER}' system user to run "
                "PostgreSQL as (Debian's postgresql package makes it)"
            ) from None
        groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
        return cls(entry.pw_uid, entry.pw_gid, frozenset(groups), entry.pw_name)

    @property
    def other(self) -> bool:
        return self.uid != os.geteuid()

    def can_enter(self, path: Path) -> bool:
        """Whether this account may traverse ``path`` (its execute bit for us)."""
        info = path.stat()
        if self.uid == 0:
            return True
        if info.st_uid == self.uid:
            return bool(info.st_mode & stat.S_IXUSR)
        if info.st_gid in self.groups:
            return bool(info.st_mode & stat.S_IXGRP)
        return bool(info.st_mode & stat.S_IXOTH)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    """A PostgreSQL cluster kept in ``data_dir``, started with :meth:`start` (or found running,
    e.g. by ``docgen serve`` while a command runs) and stopped with :meth:`stop` by whoever
    started it.

    ``settings`` are server settings given at every start (the tests turn fsync off).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        settings: Mapping[str, str] | None = None,
        bin_dir: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._settings = dict(settings or {})
        self._bin_dir = bin_dir
        self._port: int | None = None
        self._started_here = False

    @property
    def cluster_dir(self) -> Path:
        return self.data_dir / "cluster"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def password_path(self) -> Path:
        return self.data_dir.parent / "postgres.password"

    @property
    def owner_path(self) -> Path:
        """Holds the pid of the process that stops the running cluster."""
        return self.data_dir / "owner.pid"

    @property
    def port(self) -> int:
        """The port of the running cluster.

        Raises:
            ClusterError: not started.
        """
        if self._port is None:
            raise ClusterError("the embedded PostgreSQL cluster is not started")
        return self._port

    def url(self, database: str = "docgen") -> URL:
        """The SQLAlchemy URL of ``database`` in this cluster, as its superuser."""
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            password=self._password(),
            host="127.0.0.1",
            port=self.port,
            database=database,
        )

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 60, *, port: int | None = None) -> None:
        """Make the cluster if it does not exist, start it unless it runs already, and make
        sure the ``docgen`` database exists.

        ``port``: listen there rather than on a free port picked now (e.g. the port of an
        earlier start, so that clients holding its URL find the server again).

        Raises:
            ClusterError: PostgreSQL is missing, ``data_dir`` is out of the system user's
                reach, or the server did not start within ``timeout`` seconds (with the tail
                of its log).
        """
        if self._port is not None:
            return
        account = _Account.for_cluster()
        self._prepare_dir(account)
        if not (self.cluster_dir / "PG_VERSION").exists():
            self._initdb(account)
        running = self._running_port(account)
        if running is None:
            running = self._start_server(account, timeout, port)
            self._take_over()
        elif not _alive(self._owner()):
            # Left running by a docgen that died without stopping it: ours to stop now.
            # (Otherwise it belongs to the docgen still running, e.g. `docgen serve`.)
            self._take_over()
        self._port = running
        self.create_database("docgen")

    def stop(self, timeout: float = 60) -> None:
        """Stop the cluster if this object started it (fast shutdown: sessions are ended).
        Safe to call more than once."""
        atexit.unregister(self.stop)
        started, self._started_here = self._started_here, False
        self._port = None
        if started:
            self.owner_path.unlink(missing_ok=True)
            self._pg_ctl(
                _Account.for_cluster(),
                ["stop", "-m", "fast", "-w", "-t", str(int(timeout))],
                timeout=timeout + 10,
                check=False,
            )

    def create_database(self, name: str) -> None:
        """Create database ``name`` unless it exists."""
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    # --- internals -----------------------------------------------------------------------

    def _take_over(self) -> None:
        self._started_here = True
        self.owner_path.write_text(f"{os.getpid()}\n", encoding="ascii")
        atexit.register(self.stop)

    def _owner(self) -> int | None:
        try:
            return int(self.owner_path.read_text(encoding="ascii"))
        except (OSError, ValueError):
            return None

    def _dsn(self, database: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self._password(),
            dbname=database,
            connect_timeout=10,
        )

    def _password(self) -> str:
        path = self.password_path
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_urlsafe(32))
        path.chmod(0o600)
        return path.read_text(encoding="ascii").strip()

    def _prepare_dir(self, account: _Account) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not account.other:
            return
        for parent in reversed(self.data_dir.parents):
            if not account.can_enter(parent):
                raise ClusterError(
                    f"PostgreSQL runs as the '{account.name}' system user, who cannot enter "
                    f"{parent} (mode {stat.filemode(parent.stat().st_mode)}): choose a data "
                    "dir it can reach (e.g. chmod o+x the parent dirs), or set "
                    "DOCGEN_DATABASE_URL"
                )
        info = self.data_dir.stat()
        if info.st_uid != account.uid:
            for path in (self.data_dir, *self.data_dir.rglob("*")):
                os.chown(path, account.uid, account.gid, follow_symlinks=False)

    def _initdb(self, account: _Account) -> None:
        # The password goes to initdb in a file only the cluster's user can read, then away.
        pwfile = self.data_dir / "initdb.pw"
        pwfile.unlink(missing_ok=True)
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(self._password() + "\n")
        os.chown(pwfile, account.uid, account.gid)
        try:
            self._run(
                account,
                [
                    str(self._bin("initdb")),
                    f"--pgdata={self.cluster_dir}",
                    f"--username={SUPERUSER}",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    # Byte order, as the registry always sorted; no OS locale needed.
                    "--locale=C.UTF-8",
                ],
                timeout=_COMMAND_TIMEOUT,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _running_port(self, account: _Account) -> int | None:
        """The port of a server already running on this cluster (another docgen's), if any."""
        status = self._pg_ctl(account, ["status"], timeout=30, check=False)
        if status.returncode != 0:
            return None
        try:
            # postmaster.pid: pid, data dir, start time, port, ...
            lines = (self.cluster_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, IndexError, ValueError):
            return None

    def _start_server(self, account: _Account, timeout: float, fixed_port: int | None) -> int:
        last = ""
        # A free port may be taken before the server binds it: then another one (not for a
        # port that was asked for).
        for _ in range(1 if fixed_port else 3):
            port = fixed_port or _free_port()
            options = {
                "listen_addresses": "127.0.0.1",
                "port": str(port),
                "unix_socket_directories": "",
                **self._settings,
            }
            started = self._pg_ctl(
                account,
                [
                    "start",
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-l",
                    str(self.log_path),
                    "-o",
                    " ".join(f"-c {name}={value!r}" for name, value in options.items()),
                ],
                timeout=timeout + 10,
                check=False,
            )
            if started.returncode == 0:
                return port
            last = self._log_tail()
            if "Address already in use" not in last:
                break
        raise ClusterError(f"PostgreSQL did not start in {self.cluster_dir}:\n{last}")

    def _pg_ctl(
        self, account: _Account, args: list[str], *, timeout: float, check: bool
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self._bin("pg_ctl")), *args, "-D", str(self.cluster_dir)]
        return self._run(account, command, timeout=timeout, check=check)

    def _run(
        self, account: _Account, command: list[str], *, timeout: float, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(
                command,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=_child_environment(),
                # Its own session: a Ctrl-C meant for docgen must not stop the server before
                # docgen's shutdown is done with it.
                start_new_session=True,
                user=account.uid if account.other else None,
                group=account.gid if account.other else None,
                extra_groups=[] if account.other else None,
            )
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"{command[0]} {command[1]} took over {timeout:g} s") from exc
        except OSError as exc:
            raise ClusterError(f"cannot run {command[0]}: {exc}") from exc
        if check and done.returncode != 0:
            raise ClusterError(
                f"{Path(command[0]).name} failed ({done.returncode}):\n{done.stderr[-4000:]}"
            )
        return done

    def _bin(self, name: str) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        return self._bin_dir / name

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError as exc:
            return f"(cannot read {self.log_path}: {exc})"


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _child_environment() -> dict[str, str]:
    # PG* variables of the caller's shell would point the commands at another server.
    return {name: value for name, value in os.environ.items() if not name.startswith("PG")}
