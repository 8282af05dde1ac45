"""storage/ against a real SeaweedFS S3 server (no mocks)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import io
import os
import socket
import stat
import zipfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED, GOVERNANCE
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from minio.objectlockconfig import DAYS
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig

from storage import (
    PACK_TYPE,
    BucketMisconfigured,
    CachedObjectStore,
    EmbeddedS3Server,
    ObjectCorrupted,
    ObjectExists,
    ObjectNotFound,
    S3ObjectStore,
    StorageUnavailable,
    StoredObject,
    pack,
)
from storage.s3 import SPAN_GAP

BUCKET = "docgen-test"
RETENTION_DAYS = 30

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedS3Server]:
    with EmbeddedS3Server(tmp_path_factory.mktemp("s3")) as running:
        yield running


@pytest.fixture(scope="module")
def store(server: EmbeddedS3Server) -> S3ObjectStore:
    created = S3ObjectStore(
        server.endpoint,
        server.access_key,
        server.secret_key,
        BUCKET,
        retention_days=RETENTION_DAYS,
    )
    created.ensure_bucket()
    return created


@pytest.fixture(scope="module")
def raw(server: EmbeddedS3Server) -> Minio:
    """A plain minio client holding the server's own (admin) credentials."""
    return Minio(server.endpoint, server.access_key, server.secret_key, secure=False)


def unique_key(request: pytest.FixtureRequest, suffix: str = "pdf") -> str:
    return f"tests/{request.node.name}/{os.urandom(4).hex()}.{suffix}"


async def test_put_get_round_trip_with_sha256(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    data = b"%PDF-1.7\n" + os.urandom(2048)

    stored = await store.put(key, data, "application/pdf")

    assert stored.key == key
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == len(data)
    assert stored.version_id
    assert await store.exists(key)
    assert await store.get(key) == data
    assert await store.get(key, stored.version_id) == data
    info = raw.stat_object(BUCKET, key)
    assert info.metadata["x-amz-meta-sha256"] == stored.sha256
    assert info.content_type == "application/pdf"
    assert info.version_id == stored.version_id


async def test_put_existing_key_raises_and_keeps_original(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    original = await store.put(key, b"first revision", "text/plain")

    with pytest.raises(ObjectExists) as caught:
        await store.put(key, b"an attempted overwrite", "text/plain")

    assert caught.value.key == key
    assert await store.get(key) == b"first revision"
    versions = list(raw.list_objects(BUCKET, prefix=key, include_version=True))
    assert [v.version_id for v in versions] == [original.version_id]


def test_minio_still_has_the_private_put_the_store_relies_on() -> None:
    """storage/s3.py makes create-only writes with minio's private Minio._put_object (minio is
    pinned to 7.2.x): an upgrade that removes it or changes its parameters fails here, named."""
    version = f"minio {importlib.metadata.version('minio')}"
    method = getattr(Minio, "_put_object", None)
    assert callable(method), (
        f"{version}: Minio._put_object is gone; storage/s3.py's create-only writes call it"
    )
    parameters = list(inspect.signature(method).parameters)
    assert parameters == [
        "self",
        "bucket_name",
        "object_name",
        "data",
        "headers",
        "query_params",
    ], (
        f"{version}: Minio._put_object{inspect.signature(method)} changed its parameters; "
        "storage/s3.py calls it as _put_object(bucket, key, data, headers)"
    )


async def test_public_put_object_cannot_make_a_create_only_write(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    """Why the store needs the private call: minio's put_object sends If-None-Match as user
    metadata, so the server overwrites. Should an upgrade change that, this fails: then the
    public API will do."""
    version = f"minio {importlib.metadata.version('minio')}"
    key = unique_key(request)
    await store.put(key, b"first revision", "text/plain")
    public_api_will_do = (
        f"{version}: put_object no longer turns If-None-Match into user metadata; storage/s3.py "
        "may use it instead of the private Minio._put_object"
    )
    try:
        raw.put_object(BUCKET, key, io.BytesIO(b"second"), 6, metadata={"If-None-Match": "*"})
    except S3Error as exc:
        pytest.fail(f"{public_api_will_do} (the server refused the write: {exc.code})")
    info = raw.stat_object(BUCKET, key)
    assert info.metadata.get("x-amz-meta-if-none-match") == "*", public_api_will_do
    assert await store.get(key) == b"second"


async def test_put_with_unique_key_skips_the_check_and_still_keeps_every_version(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    # The caller vouches that the key is new, so the server is not asked; were the caller
    # wrong, the first version would still be there, locked, under its own version id.
    key = unique_key(request)
    first = await store.put(key, b"first revision", "text/plain", unique_key=True)
    second = await store.put(key, b"second revision", "text/plain", unique_key=True)

    assert first.version_id != second.version_id
    assert await store.get(key, first.version_id) == b"first revision"
    assert await store.get(key, second.version_id) == b"second revision"
    versions = {v.version_id for v in raw.list_objects(BUCKET, prefix=key, include_version=True)}
    assert versions == {first.version_id, second.version_id}


async def test_get_missing_key_raises_not_found(
    store: S3ObjectStore, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)

    with pytest.raises(ObjectNotFound) as caught:
        await store.get(key)

    assert caught.value.key == key
    assert not await store.exists(key)


async def test_get_missing_version_raises_not_found(
    store: S3ObjectStore, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    await store.put(key, b"only version", "text/plain")

    with pytest.raises(ObjectNotFound) as caught:
        await store.get(key, "0" * 32)

    assert caught.value.version_id == "0" * 32


async def test_get_detects_bytes_that_do_not_match_their_sha256(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    data = b"tampered after hashing"
    # Written behind the store's back with a digest of other bytes.
    raw.put_object(
        BUCKET,
        key,
        io.BytesIO(data),
        len(data),
        metadata={"sha256": hashlib.sha256(b"x").hexdigest()},
    )

    with pytest.raises(ObjectCorrupted):
        await store.get(key)


async def test_read_returns_a_part_with_a_ranged_get_checked_against_its_sha256(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    data = os.urandom(50_000)
    stored = await store.put(key, data, "application/pdf")
    middle = stored.part(12_345, data[12_345:30_000])

    assert (middle.offset, middle.size) == (12_345, 30_000 - 12_345)
    assert await store.read(middle) == data[12_345:30_000]
    assert await store.read(stored) == data  # offset 0, the whole size
    # The bytes are checked against the digest the caller holds, not the object's.
    with pytest.raises(ObjectCorrupted) as wrong:
        await store.read(stored.part(12_346, data[12_345:30_000]))
    assert wrong.value.expected_sha256 == middle.sha256
    # Past the end of the object: fewer bytes (or none) than asked can't match either.
    with pytest.raises(ObjectCorrupted):
        await store.read(StoredObject(key, stored.version_id, middle.sha256, 30_000, 40_000))
    with pytest.raises(ObjectCorrupted):
        await store.read(StoredObject(key, stored.version_id, middle.sha256, 100, 60_000))
    with pytest.raises(ObjectNotFound):
        await store.read(StoredObject(key + ".missing", None, middle.sha256, 10, 0))


async def test_read_many_reads_close_parts_of_one_object_with_one_request_each_checked(
    store: S3ObjectStore, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A chunk's pack as generating makes it (a DOCX before each PDF), with a member past
    # SPAN_GAP in the middle, and an object of its own.
    members = []
    for i in range(6):
        members += [(f"doc-{i}/01-source.docx", os.urandom(3000 + i))]
        members += [(f"doc-{i}/02-prepared.pdf", os.urandom(9000 + i))]
    members.insert(6, ("big/01-source.docx", os.urandom(SPAN_GAP + 1)))
    packed = pack(members)
    stored = await store.put(unique_key(request, "zip"), packed.data, "application/zip")
    parts = {
        name: stored.part(offset, data)
        for (name, data), (offset, _) in zip(members, packed.parts, strict=True)
    }
    alone_data = os.urandom(5000)
    alone = await store.put(unique_key(request), alone_data, "application/pdf")
    wheres = [parts[f"doc-{i}/02-prepared.pdf"] for i in (4, 0, 5, 1, 3, 2)]
    wheres.insert(2, alone)
    wheres.append(alone.part(100, alone_data[100:200]))
    requests = []
    get_object = store._client.get_object

    def counted(*args: Any, **kwargs: Any) -> Any:
        requests.append(kwargs.get("offset"))
        return get_object(*args, **kwargs)

    monkeypatch.setattr(store._client, "get_object", counted)
    read = await store.read_many(wheres)

    # doc-0..2 before the big member, doc-3..5 after it, the object of its own.
    assert len(requests) == 3
    assert read == [await store.read(where) for where in wheres]
    assert read[:2] == [dict(members)[f"doc-{i}/02-prepared.pdf"] for i in (4, 0)]
    assert read[2] == alone_data and read[-1] == alone_data[100:200]
    assert await store.read_many([]) == []


async def test_read_many_refuses_parts_whose_bytes_do_not_match(
    store: S3ObjectStore, request: pytest.FixtureRequest
) -> None:
    data = os.urandom(20_000)
    stored = await store.put(unique_key(request), data, "application/pdf")
    first, second = stored.part(0, data[:10_000]), stored.part(10_000, data[10_000:])

    # Read together, each part is still checked against its own digest.
    with pytest.raises(ObjectCorrupted) as wrong:
        await store.read_many([first, stored.part(10_001, data[10_000:19_999])])
    assert wrong.value.expected_sha256 == hashlib.sha256(data[10_000:19_999]).hexdigest()
    with pytest.raises(ObjectCorrupted):  # past the end of the object
        await store.read_many(
            [second, StoredObject(stored.key, stored.version_id, "0", 10, 30_000)]
        )
    with pytest.raises(ObjectNotFound):
        await store.read_many([first, StoredObject(stored.key + ".missing", None, "0", 10, 0)])


async def test_a_pack_keeps_each_member_contiguous_and_readable_by_zip_tools(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    members = [(f"doc-{i}/02-prepared.pdf", os.urandom(1000 + 997 * i)) for i in range(5)]
    members.append(("doc-0/01-source.docx", b""))  # an empty member has a place too
    packed = pack(members)

    stored = await store.put(unique_key(request, "zip"), packed.data, "application/zip")
    for (_, data), (offset, size) in zip(members, packed.parts, strict=True):
        assert packed.data[offset : offset + size] == data
        if data:
            assert await store.read(stored.part(offset, data)) == data
    with zipfile.ZipFile(io.BytesIO(raw.get_object(BUCKET, stored.key).read())) as archive:
        assert archive.testzip() is None
        assert [(i.filename, i.compress_type) for i in archive.infolist()] == [
            (name, zipfile.ZIP_STORED) for name, _ in members
        ]
        assert [archive.read(name) for name, _ in members] == [data for _, data in members]


def test_pack_refuses_repeated_or_empty_names() -> None:
    with pytest.raises(ValueError):
        pack([("a.pdf", b"1"), ("a.pdf", b"2")])
    with pytest.raises(ValueError):
        pack([("", b"1")])


def test_bucket_has_versioning_and_compliance_lock(store: S3ObjectStore, raw: Minio) -> None:
    assert raw.get_bucket_versioning(BUCKET).status == ENABLED
    lock = raw.get_object_lock_config(BUCKET)
    assert lock.mode == COMPLIANCE
    assert (lock.duration, lock.duration_unit) == (RETENTION_DAYS, DAYS)


async def test_put_sets_compliance_retention_itself(
    server: EmbeddedS3Server, raw: Minio, request: pytest.FixtureRequest
) -> None:
    # A locked bucket without a default rule: any retention must come from put().
    bucket = "docgen-no-default-rule"
    raw.make_bucket(bucket, object_lock=True)
    bare = S3ObjectStore(
        server.endpoint, server.access_key, server.secret_key, bucket, retention_days=7
    )

    stored = await bare.put(unique_key(request), b"x", "text/plain")

    retention = raw.get_object_retention(bucket, stored.key, version_id=stored.version_id)
    assert retention.mode == COMPLIANCE
    until = retention.retain_until_date
    assert until is not None
    expected = datetime.now(UTC) + timedelta(days=7)
    assert abs(until - expected) < timedelta(minutes=5)


async def test_stored_version_cannot_be_deleted_even_with_server_credentials(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    stored = await store.put(key, b"signed revision", "application/pdf")

    with pytest.raises(S3Error) as refused:
        raw.remove_object(BUCKET, key, version_id=stored.version_id)
    assert refused.value.code == "AccessDenied"
    errors = list(
        raw.remove_objects(
            BUCKET, [DeleteObject(key, stored.version_id)], bypass_governance_mode=True
        )
    )
    assert [e.name for e in errors] == [key]

    assert await store.get(key) == b"signed revision"
    assert await store.get(key, stored.version_id) == b"signed revision"


async def test_delete_without_version_only_hides_the_revision(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    stored = await store.put(key, b"revision", "application/pdf")

    raw.remove_object(BUCKET, key)  # S3 answers with a delete marker, not a deletion

    assert not await store.exists(key)
    with pytest.raises(ObjectNotFound):
        await store.get(key)
    assert await store.get(key, stored.version_id) == b"revision"


async def test_retention_cannot_be_shortened_or_weakened(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    stored = await store.put(key, b"revision", "application/pdf")
    soon = datetime.now(UTC) + timedelta(seconds=5)

    for mode in (COMPLIANCE, GOVERNANCE):
        with pytest.raises(S3Error) as refused:
            raw.set_object_retention(BUCKET, key, Retention(mode, soon), stored.version_id)
        assert refused.value.code == "AccessDenied"

    retention = raw.get_object_retention(BUCKET, key, version_id=stored.version_id)
    assert retention.mode == COMPLIANCE
    until = retention.retain_until_date
    assert until is not None and until > datetime.now(UTC) + timedelta(days=RETENTION_DAYS - 1)


async def test_filer_http_api_cannot_bypass_the_lock(
    server: EmbeddedS3Server, store: S3ObjectStore, request: pytest.FixtureRequest
) -> None:
    # The S3 gateway enforces object lock; the filer behind it must not be an open side door.
    key = unique_key(request)
    await store.put(key, b"revision", "application/pdf")
    filer = f"http://{server.filer_endpoint}"

    with httpx.Client(timeout=10) as http:
        deleted = http.delete(f"{filer}/buckets/{BUCKET}", params={"recursive": "true"})
        listed = http.get(f"{filer}/buckets/{BUCKET}/", headers={"Accept": "application/json"})
        written = http.post(f"{filer}/buckets/{BUCKET}/{key}", files={"file": b"forged"})

    assert (deleted.status_code, listed.status_code, written.status_code) == (401, 401, 401)
    assert await store.get(key) == b"revision"


def test_bucket_with_objects_cannot_be_removed(store: S3ObjectStore, raw: Minio) -> None:
    with pytest.raises(S3Error) as refused:
        raw.remove_bucket(BUCKET)
    assert refused.value.code == "BucketNotEmpty"
    assert raw.bucket_exists(BUCKET)


@pytest.mark.parametrize("wrong", ["access", "secret", "anonymous"])
def test_wrong_credentials_are_refused(server: EmbeddedS3Server, wrong: str) -> None:
    if wrong == "anonymous":
        client = Minio(server.endpoint, secure=False)
    else:
        access = "DGWRONGKEY" if wrong == "access" else server.access_key
        secret = "not-the-secret" if wrong == "secret" else server.secret_key
        client = Minio(server.endpoint, access, secret, secure=False)

    with pytest.raises(S3Error) as refused:
        client.list_objects(BUCKET).__next__()

    assert refused.value.code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


async def test_store_with_wrong_credentials_raises_unavailable(
    server: EmbeddedS3Server, store: S3ObjectStore, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    await store.put(key, b"x", "text/plain")
    intruder = S3ObjectStore(server.endpoint, server.access_key, "not-the-secret", BUCKET)

    with pytest.raises(StorageUnavailable):
        await intruder.get(key)
    with pytest.raises(StorageUnavailable):
        await intruder.put(unique_key(request), b"y", "text/plain")


async def test_unreachable_endpoint_raises_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but never listening: connections are refused
        nowhere = S3ObjectStore(f"127.0.0.1:{port}", "a", "b", BUCKET)
        with pytest.raises(StorageUnavailable):
            await nowhere.exists("anything")


async def test_ensure_bucket_is_idempotent(
    store: S3ObjectStore, raw: Minio, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    await store.put(key, b"kept", "text/plain")

    store.ensure_bucket()
    store.ensure_bucket()

    assert await store.get(key) == b"kept"
    lock = raw.get_object_lock_config(BUCKET)
    assert (lock.duration, lock.duration_unit) == (RETENTION_DAYS, DAYS)


def test_ensure_bucket_updates_default_retention(server: EmbeddedS3Server, raw: Minio) -> None:
    bucket = "docgen-retention-change"
    for days in (5, 9):
        S3ObjectStore(
            server.endpoint, server.access_key, server.secret_key, bucket, retention_days=days
        ).ensure_bucket()
        lock = raw.get_object_lock_config(bucket)
        assert (lock.mode, lock.duration, lock.duration_unit) == (COMPLIANCE, days, DAYS)


@pytest.mark.parametrize("versioning", [False, True])
def test_ensure_bucket_rejects_bucket_without_object_lock(
    server: EmbeddedS3Server, raw: Minio, versioning: bool
) -> None:
    bucket = f"docgen-unlocked-{int(versioning)}"
    raw.make_bucket(bucket)
    if versioning:
        raw.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    unlocked = S3ObjectStore(server.endpoint, server.access_key, server.secret_key, bucket)

    with pytest.raises(BucketMisconfigured, match="object lock"):
        unlocked.ensure_bucket()


def volumes_of(master: str | None, bucket: str) -> list[dict[str, Any]]:
    """The layouts (volumes) of the bucket's collection, as SeaweedFS's master has them."""
    status = httpx.get(f"http://{master}/dir/status").json()
    layouts = status["Topology"]["Layouts"] or []
    return [layout for layout in layouts if layout["collection"] == bucket]


async def test_a_bucket_gets_its_volume_before_its_first_upload(server: EmbeddedS3Server) -> None:
    bucket = "docgen-first-volume"
    store = S3ObjectStore(server.endpoint, server.access_key, server.secret_key, bucket)
    store.ensure_bucket()
    # None yet: SeaweedFS would create it for the first upload, which would wait for it.
    assert volumes_of(server.master_endpoint, bucket) == []
    server.allocate_volume(bucket)
    server.allocate_volume(bucket)  # already there: nothing more
    [layout] = volumes_of(server.master_endpoint, bucket)
    assert len(layout["writables"]) == 1
    await store.put("daftar.csv", b"nama,nip\n", "text/csv")
    # The upload went to that volume; none was grown for it.
    assert volumes_of(server.master_endpoint, bucket) == [layout]


def test_credential_files_are_private(server: EmbeddedS3Server) -> None:
    for name in ("credentials.json", "s3-identities.json"):
        mode = stat.S_IMODE((server.data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {mode:o}"


def test_server_schedules_go_code_on_one_thread(server: EmbeddedS3Server) -> None:
    # weed's components hand each request to one another; a second Go thread only spins.
    environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
    expected = os.environ.get("GOMAXPROCS", "1")
    assert f"GOMAXPROCS={expected}".encode() in environ


async def test_restart_keeps_objects_and_credentials(
    tmp_path: Path, server: EmbeddedS3Server
) -> None:
    # Runs beside the module's server: two instances must not collide on any port.
    first = EmbeddedS3Server(tmp_path / "s3")
    with first:
        credentials = (first.access_key, first.secret_key)
        writer = S3ObjectStore(first.endpoint, *credentials, BUCKET)
        writer.ensure_bucket()
        stored = await writer.put("kept/across/restart.pdf", b"%PDF survives", "application/pdf")
        pid = first.pid
    assert pid is not None
    assert not _process_exists(pid)

    second = EmbeddedS3Server(tmp_path / "s3")
    with second:
        assert (second.access_key, second.secret_key) == credentials
        reader = S3ObjectStore(second.endpoint, *credentials, BUCKET)
        reader.ensure_bucket()
        assert await reader.get(stored.key) == b"%PDF survives"
        assert await reader.get(stored.key, stored.version_id) == b"%PDF survives"
        with pytest.raises(ObjectExists):
            await reader.put(stored.key, b"replacement", "application/pdf")
    assert (tmp_path / "s3" / "weed.log").stat().st_size > 0


def test_start_failure_reports_log_tail(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        embedded = EmbeddedS3Server(tmp_path / "s3", port=busy.getsockname()[1])

        with pytest.raises(StorageUnavailable) as caught:
            embedded.start(timeout=20)

    assert "log tail" in str(caught.value)
    assert not embedded.running


def test_start_stops_a_server_orphaned_on_the_same_data_dir(tmp_path: Path) -> None:
    orphaned = EmbeddedS3Server(tmp_path / "s3")
    orphaned.start()
    orphan_pid = orphaned.pid
    assert orphan_pid is not None
    orphaned._process = None  # its owner died without calling stop()

    try:
        with EmbeddedS3Server(tmp_path / "s3") as successor:
            assert successor.pid != orphan_pid
            assert not _child_running(orphan_pid)
    finally:
        orphaned.stop()  # only tidies its socket files now


def _child_running(pid: int) -> bool:
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # already reaped (subprocess reaps abandoned children)
    return reaped == 0


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- the revision cache in front of the store -------------------------------------------------


class CountingStore:
    """The real store, counting the reads that reach it."""

    def __init__(self, inner: S3ObjectStore) -> None:
        self.inner = inner
        self.gets = 0

    async def put(
        self, key: str, data: bytes, content_type: str, *, unique_key: bool = False
    ) -> StoredObject:
        return await self.inner.put(key, data, content_type, unique_key=unique_key)

    async def get(self, key: str, version_id: str | None = None) -> bytes:
        self.gets += 1
        return await self.inner.get(key, version_id)

    async def read(self, where: StoredObject) -> bytes:
        self.gets += 1
        return await self.inner.read(where)

    async def read_many(self, wheres: Sequence[StoredObject]) -> list[bytes]:
        self.gets += 1
        return await self.inner.read_many(wheres)

    async def exists(self, key: str) -> bool:
        return await self.inner.exists(key)


@pytest.fixture
def counting(store: S3ObjectStore) -> CountingStore:
    return CountingStore(store)


@pytest.fixture
def cache(counting: CountingStore, tmp_path: Path) -> CachedObjectStore:
    return CachedObjectStore(counting, tmp_path / "cache", max_bytes=1 << 20)


async def test_cache_serves_a_written_version_without_reading_the_store(
    cache: CachedObjectStore, counting: CountingStore, request: pytest.FixtureRequest
) -> None:
    key = unique_key(request)
    data = os.urandom(4096)
    first = await cache.put(key, data, "application/pdf")
    other = os.urandom(10)
    second = await counting.inner.put(key + ".2", other, "application/pdf")

    assert await cache.get(key, first.version_id) == data
    assert counting.gets == 0
    # Without a version ("the latest") the store answers: it may have changed behind us.
    assert await cache.get(key) == data
    assert counting.gets == 1
    # A version written by someone else is read once, then kept.
    assert await cache.get(second.key, second.version_id) == other
    gets = counting.gets
    await cache.get(second.key, second.version_id)
    assert counting.gets == gets


async def test_cache_drops_a_damaged_copy_and_reads_the_store(
    cache: CachedObjectStore,
    counting: CountingStore,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    key = unique_key(request)
    data = os.urandom(4096)
    stored = await cache.put(key, data, "application/pdf")
    (copy,) = (tmp_path / "cache").iterdir()
    copy.write_bytes(b"%PDF-1.7 forged" + data[15:])

    assert await cache.get(key, stored.version_id) == data
    assert counting.gets == 1
    assert (tmp_path / "cache").joinpath(copy.name).read_bytes() == data  # kept anew, intact
    assert await cache.get(key, stored.version_id) == data
    assert counting.gets == 1


async def test_cache_stays_within_its_bound_forgetting_the_least_recently_used(
    counting: CountingStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    cache = CachedObjectStore(counting, tmp_path / "cache", max_bytes=3 * 1000)
    key = unique_key(request)
    stored = [await cache.put(f"{key}.{i}", os.urandom(1000), "application/pdf") for i in range(3)]
    await cache.get(stored[0].key, stored[0].version_id)  # now the most recently used
    stored.append(await cache.put(f"{key}.3", os.urandom(1000), "application/pdf"))

    assert cache.cached_bytes == 3000
    assert len(list((tmp_path / "cache").iterdir())) == 3
    for kept in (0, 2, 3):
        await cache.get(stored[kept].key, stored[kept].version_id)
    assert counting.gets == 0
    await cache.get(stored[1].key, stored[1].version_id)  # the one forgotten
    assert counting.gets == 1
    # Larger than the whole cache: stored, never kept.
    big = await cache.put(f"{key}.big", os.urandom(4000), "application/pdf")
    assert cache.cached_bytes == 3000
    await cache.get(big.key, big.version_id)
    assert counting.gets == 2


async def test_cache_starts_empty_and_refused_writes_leave_nothing(
    counting: CountingStore, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "left-by-an-earlier-run").write_bytes(b"stale")
    cache = CachedObjectStore(counting, tmp_path / "cache", max_bytes=1 << 20)
    assert list((tmp_path / "cache").iterdir()) == []

    key = unique_key(request)
    await cache.put(key, b"first", "application/pdf")
    with pytest.raises(ObjectExists):
        await cache.put(key, b"second", "application/pdf")
    assert cache.cached_bytes == len(b"first")


async def test_cache_reads_parts_of_a_kept_object_checking_each_against_its_sha256(
    cache: CachedObjectStore,
    counting: CountingStore,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    members = [(f"doc-{i}/03-signed.pdf", os.urandom(3000)) for i in range(4)]
    packed = pack(members)
    stored = await cache.put(unique_key(request, "zip"), packed.data, "application/zip")
    parts = [stored.part(o, data) for (o, _), (_, data) in zip(packed.parts, members, strict=True)]

    assert [await cache.read(p) for p in parts] == [data for _, data in members]
    assert counting.gets == 0
    # A part the registry describes wrongly is not served from the copy, nor from the store.
    with pytest.raises(ObjectCorrupted):
        await cache.read(stored.part(parts[1].offset + 1, members[1][1]))
    assert counting.gets == 1
    # That dropped the copy (it could not tell a damaged copy from a wrong description): the
    # store answers from now on, and what it answers is not kept.
    assert await cache.read(parts[2]) == members[2][1]
    assert await cache.read(parts[2]) == members[2][1]
    assert counting.gets == 3
    assert list((tmp_path / "cache").iterdir()) == []


async def test_cache_reads_many_parts_from_kept_copies_and_the_rest_from_the_store_at_once(
    cache: CachedObjectStore, counting: CountingStore, request: pytest.FixtureRequest
) -> None:
    members = [(f"doc-{i}/03-signed.pdf", os.urandom(3000)) for i in range(4)]
    packed = pack(members)
    kept = await cache.put(unique_key(request, "zip"), packed.data, "application/zip")
    elsewhere = await counting.inner.put(unique_key(request, "2.zip"), packed.data, PACK_TYPE)
    wheres = [
        where.part(offset, data)
        for (offset, _), (_, data) in zip(packed.parts, members, strict=True)
        for where in (kept, elsewhere)
    ]

    assert await cache.read_many(wheres) == [data for _, data in members for _ in range(2)]
    assert counting.gets == 1  # the four parts not kept, in one read_many


async def test_cache_serves_an_intact_part_of_a_copy_damaged_elsewhere(
    cache: CachedObjectStore,
    counting: CountingStore,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    data = os.urandom(8000)
    stored = await cache.put(unique_key(request), data, "application/pdf")
    (copy,) = (tmp_path / "cache").iterdir()
    copy.write_bytes(data[:4000] + b"forged" + data[4006:])

    assert await cache.read(stored.part(0, data[:4000])) == data[:4000]
    assert counting.gets == 0
    assert await cache.read(stored.part(4000, data[4000:])) == data[4000:]
    assert counting.gets == 1  # the damaged part came from the store
