"""The parts the service runs on, built once at start-up and closed at shutdown.

Only the app's lifespan holds them all (:class:`Parts`); routes receive each part they use
through ``docgen.deps``, services the collaborators they name.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio

import signing.fast
from docgen.batches.making import ChunkMaker
from docgen.batches.runner import BatchRunner
from docgen.batches.service import BatchService
from docgen.batches.signing import BulkSignings
from docgen.documents.drafts import Drafts
from docgen.documents.service import DocumentService
from docgen.kit.jobs import Jobs
from docgen.kit.links import Links
from docgen.kit.sandbox import Sandbox
from docgen.notifications import Notifier
from docgen.people.service import Accounts, LoginPolicy
from docgen.pipeline.convert import UnoserverPool
from docgen.pipeline.orchestration import Pipeline
from docgen.pipeline.workers import WorkerPool
from docgen.registry.changes import ChangeFollower, ChangeKind
from docgen.registry.db import Database, running_registry
from docgen.settings import Settings
from docgen.signers.authority import deployment_authority
from docgen.signers.keys import PinPolicy, SignerKeys
from docgen.signers.revocation import RevocationList
from docgen.signers.service import Signers
from docgen.templating.catalogue import (
    TemplateCatalogue,
    load_templates,
    load_uploaded_versions,
)
from docgen.verification.service import TrustFiles, UploadChecks
from signing.pki import CertificateAuthority
from storage import CachedObjectStore, EmbeddedS3Server, ObjectStore, S3ObjectStore

__all__ = ["Parts", "ca_dir", "deployment_ca", "load_pepper", "start_parts"]


@dataclass(frozen=True)
class Parts:
    """Everything the service was built from (for the lifespan and ``docgen.deps`` only)."""

    settings: Settings
    db: Database
    store: ObjectStore
    store_endpoint: str
    ca: CertificateAuthority
    catalogue: TemplateCatalogue
    sandbox: Sandbox
    links: Links
    upload_checks: UploadChecks
    keys: SignerKeys
    revocations: RevocationList
    accounts: Accounts
    signers: Signers
    documents: DocumentService
    drafts: Drafts
    batches: BatchService
    runner: BatchRunner
    bulk_signings: BulkSignings
    jobs: Jobs
    notifier: Notifier
    changes: ChangeFollower


def load_pepper(settings: Settings) -> bytes:
    """The server secret: from settings, else a random one kept in the data dir."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()


def ca_dir(settings: Settings) -> Path:
    """Where this instance keeps its cache of the deployment's CA (worker processes read it)."""
    return settings.data_dir / "ca"


async def deployment_ca(settings: Settings, db: Database) -> CertificateAuthority:
    """The deployment's CA from the registry (made or adopted on the first start), cached in
    the data dir.

    Raises:
        WrongSecretKey: the server secret does not unseal it.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return await deployment_authority(db, ca_dir(settings), load_pepper(settings))


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


@asynccontextmanager
async def start_parts(settings: Settings) -> AsyncIterator[Parts]:
    """Start (or connect to) every part; stops what it started on exit."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    signing.fast.use(settings.fast_paths)
    async with AsyncExitStack() as stack:
        pepper = load_pepper(settings)
        # Its schema was checked by `docgen serve` (`docgen migrate` is the one to change it).
        registry = await stack.enter_async_context(running_registry(settings))
        db = Database.of(registry, settings)
        stack.push_async_callback(db.close)
        ca = await deployment_ca(settings, db)
        trust_files = TrustFiles(
            roots=settings.data_dir / "trust-roots.pem", crl=settings.data_dir / "crl.der"
        )
        trust_files.roots.write_bytes(ca.root_pem())
        # Folder templates first: a broken one stops the start before anything is started.
        catalogue = TemplateCatalogue(load_templates(settings.templates_dir).values())
        store: S3ObjectStore | None = None
        converter: UnoserverPool | None = None

        async def start_store() -> None:
            nonlocal store
            store = await anyio.to_thread.run_sync(_object_store, settings, stack)

        async def start_converter() -> None:
            nonlocal converter
            converter = await anyio.to_thread.run_sync(_converter, settings, stack)

        # LibreOffice and the S3 server take seconds each: start them side by side.
        async with anyio.create_task_group() as tg:
            tg.start_soon(start_store)
            tg.start_soon(start_converter)
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
        workers = WorkerPool(
            settings.bulk_workers, ca_dir(settings), fast_paths=settings.fast_paths
        )
        stack.callback(workers.stop)
        # Kept warm like LibreOffice: each takes ~0.9 s of CPU to start (imports, fonts, CA),
        # which the first document after a start would otherwise wait for. They start in the
        # background; ~100 MB each while idle.
        await workers.start()
        await load_uploaded_versions(catalogue, db, store)
        links = Links(settings.base_url)
        # Entered after the database: it sends what is still waiting before the database closes.
        notifier = await stack.enter_async_context(Notifier.of(settings, db, links).running())
        revocations = RevocationList(db, ca, trust_files.crl)
        keys = SignerKeys(
            db,
            ca,
            pepper,
            PinPolicy(settings.pin_max_attempts, settings.pin_lock_minutes),
            links,
        )
        pipeline = Pipeline(workers, converter, cached)
        documents = DocumentService(db, catalogue, pipeline, keys, revocations, links, notifier)
        runner = BatchRunner(db, ChunkMaker(db, catalogue, pipeline, links, notifier))
        jobs = Jobs()
        sandbox = Sandbox(settings.verify_workers, settings.verify_timeout)
        accounts = Accounts(db, links, LoginPolicy.of(settings), notifier)
        yield Parts(
            settings=settings,
            db=db,
            store=cached,
            store_endpoint=store.endpoint,
            ca=ca,
            catalogue=catalogue,
            sandbox=sandbox,
            links=links,
            upload_checks=UploadChecks(links, sandbox, trust_files, settings.max_upload_bytes),
            keys=keys,
            revocations=revocations,
            accounts=accounts,
            signers=Signers(db, keys, revocations, accounts),
            documents=documents,
            drafts=Drafts(documents, settings.data_dir / "cache" / "drafts"),
            batches=BatchService(
                db, catalogue, cached, runner.wake, chunk_rows=settings.batch_chunk_rows
            ),
            runner=runner,
            bulk_signings=BulkSignings(db, documents, jobs, settings.signing_lease_seconds),
            jobs=jobs,
            notifier=notifier,
            # What another instance changes, followed here (run by the lifespan).
            changes=ChangeFollower(
                db.url,
                {
                    ChangeKind.TEMPLATES: partial(load_uploaded_versions, catalogue, db, store),
                    ChangeKind.CRL: revocations.catch_up,
                },
                settings.changes_poll_seconds,
            ),
        )
