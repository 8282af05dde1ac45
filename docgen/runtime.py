"""Everything the service runs on, built once at start-up and torn down at shutdown."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from weakref import WeakValueDictionary

import anyio
from anyio.abc import TaskGroup
from cryptography import x509

from docgen.errors import NotFound
from docgen.pipeline.convert import Converter, UnoserverPool
from docgen.pipeline.workers import WorkerPool
from docgen.registry.db import Database, migrate
from docgen.registry.models import Base
from docgen.settings import Settings
from docgen.templating.catalogue import TemplateRegistry, load_templates, load_uploaded_versions
from docgen.templating.manifest import Template
from signing.pades import sign as pades
from signing.pki.ca import CertificateAuthority
from signing.prepare import stamp
from storage import CachedObjectStore, EmbeddedS3Server, ObjectStore, S3ObjectStore

M = TypeVar("M", bound=Base)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    store: ObjectStore
    converter: Converter
    ca: CertificateAuthority
    template_registry: TemplateRegistry
    pepper: bytes
    trust_roots_path: Path
    store_endpoint: str
    workers: WorkerPool
    # Serialises the short registry write phases (numbers, audit chain head).
    write_lock: anyio.Lock = field(default_factory=anyio.Lock)
    # Held only while a document is being signed, so the map empties itself.
    _document_locks: WeakValueDictionary[str, anyio.Lock] = field(
        default_factory=WeakValueDictionary
    )
    # Each uploaded PDF is checked in its own process (up to 1 GiB): bound how many at once.
    verify_slots: anyio.CapacityLimiter = field(init=False)
    # The certificate revocation list currently published (see docgen.documents.revocation).
    crl: x509.CertificateRevocationList | None = None
    # Where background jobs (bulk generation and signing) run; set by the app while it serves.
    jobs: TaskGroup | None = None
    # Set when a batch is accepted, so the batch runner need not wait for its next look.
    batch_posted: anyio.Event = field(default_factory=anyio.Event)

    def __post_init__(self) -> None:
        self.verify_slots = anyio.CapacityLimiter(self.settings.verify_workers)

    def template(self, template_id: str) -> Template:
        """The latest version of the template, for new documents. Raises TemplateNotFound."""
        return self.template_registry.latest(template_id)

    @property
    def templates(self) -> dict[str, Template]:
        """The latest version of each template by id (a snapshot).

        Kept for callers that look a template up by id alone; a document's own version is
        ``template_registry.get(document.template_id, document.template_version)``.
        """
        return {t.id: t for t in self.template_registry.all_latest()}

    def document_lock(self, document_id: str) -> anyio.Lock:
        """One signing at a time per document, so each signs the newest revision."""
        lock = self._document_locks.get(document_id)
        if lock is None:
            lock = self._document_locks[document_id] = anyio.Lock()
        return lock

    async def fetch(self, model: type[M], key: str, missing: str) -> M:
        """The row of ``model`` with primary key ``key``; raises NotFound(missing)."""
        async with self.db.session() as session:
            row = await session.get(model, key)
        if row is None:
            raise NotFound(missing)
        return row

    def verify_url(self, code: str) -> str:
        return f"{self.settings.base_url}/v/{code}"

    @property
    def crl_url(self) -> str:
        """Where the CRL is published; written into every signer certificate."""
        return f"{self.settings.base_url}/api/v1/trust/crl"

    @property
    def crl_path(self) -> Path:
        return self.settings.data_dir / "crl.der"


def load_pepper(settings: Settings) -> bytes:
    """The server secret: from settings, else a random one kept in the data dir."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def _object_store(settings: Settings, stack: AsyncExitStack) -> S3ObjectStore:
    server: EmbeddedS3Server | None = None
    if settings.s3_endpoint:
        if not (settings.s3_access_key and settings.s3_secret_key):
            raise RuntimeError("DOCGEN_S3_ACCESS_KEY and DOCGEN_S3_SECRET_KEY must be set")
        endpoint, access, secret = (
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
        )
    else:
        server = EmbeddedS3Server(settings.data_dir / "s3")
        server.start()
        stack.callback(server.stop)
        endpoint, access, secret = server.endpoint, server.access_key, server.secret_key
    store = S3ObjectStore(
        endpoint,
        access,
        secret,
        settings.s3_bucket,
        secure=settings.s3_secure,
        region=settings.s3_region,
        retention_days=settings.s3_retention_days,
    )
    store.ensure_bucket()
    if server is not None:
        server.allocate_volume(settings.s3_bucket)
    return store


def _converter(settings: Settings, stack: AsyncExitStack) -> UnoserverPool:
    pool = UnoserverPool(
        settings.data_dir / "converter",
        size=settings.converter_workers,
        python=settings.uno_python,
        timeout=settings.converter_timeout,
    )
    stack.callback(pool.stop)
    pool.start()
    return pool


def _warm_up() -> None:
    stamp.warm_up()
    pades.warm_up()


@asynccontextmanager
async def start_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Start (or connect to) every part; stops what it started on exit."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        pepper = load_pepper(settings)
        await anyio.to_thread.run_sync(migrate, settings.sqlalchemy_url)
        ca = await anyio.to_thread.run_sync(
            CertificateAuthority.load_or_create, Path(settings.data_dir / "ca")
        )
        trust_roots_path = settings.data_dir / "trust-roots.pem"
        trust_roots_path.write_bytes(ca.root_pem())
        # Folder templates first: a broken one stops the start before anything is started.
        templates = TemplateRegistry(load_templates(settings.templates_dir).values())
        store: S3ObjectStore | None = None
        converter: UnoserverPool | None = None

        async def start_store() -> None:
            nonlocal store
            store = await anyio.to_thread.run_sync(_object_store, settings, stack)

        async def start_converter() -> None:
            nonlocal converter
            converter = await anyio.to_thread.run_sync(_converter, settings, stack)

        # LibreOffice and the S3 server take seconds each: start them side by side, and pay the
        # one-off font preparation of stamping and signing now rather than in the first request.
        async with anyio.create_task_group() as tg:
            tg.start_soon(start_store)
            tg.start_soon(start_converter)
            tg.start_soon(anyio.to_thread.run_sync, _warm_up)
        assert store is not None and converter is not None
        cached: ObjectStore = store
        if settings.revision_cache_mb:
            # (in a thread: it empties what a previous run left in its directory)
            cached = await anyio.to_thread.run_sync(
                CachedObjectStore,
                store,
                settings.data_dir / "cache" / "revisions",
                settings.revision_cache_mb << 20,
            )
        workers = WorkerPool(settings.bulk_workers, settings.data_dir / "ca")
        stack.callback(workers.stop)
        # Kept warm like LibreOffice: each takes ~0.9 s of CPU to start (imports, fonts, CA),
        # which the first batch after a start would otherwise wait for. They start in the
        # background; ~100 MB each while idle.
        await workers.start()
        db = Database(settings.sqlalchemy_url)
        stack.push_async_callback(db.close)
        await load_uploaded_versions(templates, db, store)
        yield Runtime(
            settings=settings,
            db=db,
            store=cached,
            converter=converter,
            ca=ca,
            template_registry=templates,
            pepper=pepper,
            trust_roots_path=trust_roots_path,
            store_endpoint=store.endpoint,
            workers=workers,
        )
