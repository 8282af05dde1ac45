"""The parts the service runs on, built once at start-up and closed at shutdown.

Only the app's lifespan holds them all (:class:`Parts`); routes receive each part they use
through ``docgen.deps``, services the collaborators they name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from sqlalchemy.engine import URL

import signing.fast
from docgen.batches.making import ChunkMaker
from docgen.batches.service import BatchService
from docgen.batches.signing import BulkSignings
from docgen.batches.tasks import ChunkQueue
from docgen.converter import RemoteConverter
from docgen.documents.drafts import Drafts
from docgen.documents.service import DocumentService
from docgen.emeterai.service import EMeteraiStep
from docgen.jobs import job_app
from docgen.kit.jobs import Jobs
from docgen.kit.links import Links
from docgen.kit.object_storage import configured_store, start_embedded
from docgen.kit.readiness import Checked
from docgen.kit.sandbox import Sandbox
from docgen.kit.secret import load_pepper
from docgen.notifications import Notifier
from docgen.paraf.service import Paraf
from docgen.people.profiles import UnitProfiles
from docgen.people.service import Accounts, LoginPolicy
from docgen.pipeline.bounds import RenderBounds
from docgen.pipeline.convert import ServingConverter, UnoserverPool, local_pool
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
from docgen.verification.service import VERIFY_MODULE, PublicViews, TrustFiles, UploadChecks
from signing.emeterai import EMeteraiProvider, LocalEMeteraiProvider
from signing.pki import CertificateAuthority
from storage import CachedObjectStore, ObjectStore, S3ObjectStore

__all__ = [
    "Core",
    "Parts",
    "ca_dir",
    "deployment_ca",
    "load_pepper",
    "start_parts",
    "start_worker_parts",
]


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
    public_views: PublicViews
    upload_checks: UploadChecks
    keys: SignerKeys
    revocations: RevocationList
    accounts: Accounts
    profiles: UnitProfiles
    signers: Signers
    documents: DocumentService
    emeterai: EMeteraiStep
    drafts: Drafts
    paraf: Paraf
    batches: BatchService
    bulk_signings: BulkSignings
    jobs: Jobs
    notifier: Notifier
    checked: Checked  # what /readyz looks at
    changes: ChangeFollower


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


def _emeterai_provider(
    settings: Settings, ca: CertificateAuthority, links: Links
) -> EMeteraiProvider | None:
    """The e-Meterai provider of DOCGEN_EMETERAI_PROVIDER (None: none)."""
    if settings.emeterai_provider == "local":
        return LocalEMeteraiProvider(ca, ca.timestamper(), crl_url=links.crl_url)
    return None


def _object_store(settings: Settings, stack: AsyncExitStack) -> S3ObjectStore:
    if settings.s3_endpoint:
        store = configured_store(settings)
        store.ensure_bucket()
        return store
    server, store = start_embedded(settings)
    stack.callback(server.stop)
    return store


def _local_converter(settings: Settings, stack: AsyncExitStack) -> UnoserverPool:
    pool = local_pool(settings)
    stack.callback(pool.stop)
    pool.start()
    return pool


async def _converter(settings: Settings, stack: AsyncExitStack) -> ServingConverter:
    """The converter nodes of DOCGEN_CONVERTER_URLS, else LibreOffice started here.

    Raises:
        ValueError: converter nodes without a configured server secret.
        ConversionFailed: LibreOffice does not start.
    """
    if settings.converter_nodes:
        return await stack.enter_async_context(RemoteConverter.of(settings))
    return await anyio.to_thread.run_sync(_local_converter, settings, stack)


@dataclass(frozen=True)
class Core:
    """The parts both the API and a ``docgen worker`` run on."""

    db: Database
    ca: CertificateAuthority
    catalogue: TemplateCatalogue
    store: ObjectStore  # (behind the revision cache, if any)
    store_endpoint: str
    links: Links
    notifier: Notifier
    converter: ServingConverter
    pipeline: Pipeline

    async def load_uploaded_templates(self) -> int:
        """Template versions uploaded on any instance and not held yet, into the catalogue;
        how many were read. Raises TemplateInvalid (as ``load_uploaded_versions``)."""
        return await load_uploaded_versions(self.catalogue, self.db, self.store)

    def chunk_maker(self) -> ChunkMaker:
        """Makes batch chunks; a template version uploaded after the start is read from the
        registry when a chunk needs it."""
        return ChunkMaker(
            self.db,
            self.catalogue,
            self.pipeline,
            self.links,
            self.notifier,
            reload_templates=self.load_uploaded_templates,
        )


async def _start_core(
    settings: Settings, stack: AsyncExitStack, registry: URL, *, revision_cache: bool
) -> Core:
    """Connect to the registry at ``registry`` and start (or connect to) the object storage,
    LibreOffice (or the converter nodes) and the bulk worker processes; ``stack`` stops them.
    With ``revision_cache`` (and ``revision_cache_mb``) revisions are read through a local
    cache (``storage.CachedObjectStore``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    signing.fast.use(settings.fast_paths)
    db = Database.of(registry, settings)
    stack.push_async_callback(db.close)
    ca = await deployment_ca(settings, db)
    # Folder templates first: a broken one stops the start before anything is started.
    catalogue = TemplateCatalogue(load_templates(settings.templates_dir).values())
    store: S3ObjectStore | None = None
    converter: ServingConverter | None = None

    async def start_store() -> None:
        nonlocal store
        store = await anyio.to_thread.run_sync(_object_store, settings, stack)

    async def start_converter() -> None:
        nonlocal converter
        converter = await _converter(settings, stack)

    # LibreOffice and the S3 server take seconds each: start them side by side.
    async with anyio.create_task_group() as tg:
        tg.start_soon(start_store)
        tg.start_soon(start_converter)
    assert store is not None and converter is not None
    cached: ObjectStore = store
    if revision_cache and settings.revision_cache_mb:
        # (in a thread: it empties what a previous run left in its directory)
        cached = await anyio.to_thread.run_sync(
            CachedObjectStore,
            store,
            settings.data_dir / "cache" / "revisions",
            settings.revision_cache_mb << 20,
        )
    workers = WorkerPool(
        settings.bulk_workers,
        ca_dir(settings),
        RenderBounds(settings.render_seconds, settings.render_memory_mib << 20),
        fast_paths=settings.fast_paths,
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
    return Core(
        db=db,
        ca=ca,
        catalogue=catalogue,
        store=cached,
        store_endpoint=store.endpoint,
        links=links,
        notifier=notifier,
        converter=converter,
        pipeline=Pipeline(workers, converter, cached),
    )


@asynccontextmanager
async def start_worker_parts(settings: Settings, registry: URL) -> AsyncIterator[Core]:
    """The parts a ``docgen worker`` makes batches with; stops what it started on exit."""
    async with AsyncExitStack() as stack:
        # No revision cache: a worker stores what it makes and never reads it back (the API
        # signs it, through its own cache); keeping each chunk's pack (~16 MB of berita acara)
        # cost a disk write per chunk and up to revision_cache_mb of disk for nothing.
        yield await _start_core(settings, stack, registry, revision_cache=False)


@asynccontextmanager
async def start_parts(settings: Settings) -> AsyncIterator[Parts]:
    """Start (or connect to) every part the API runs on; stops what it started on exit."""
    async with AsyncExitStack() as stack:
        # Its schema was checked by `docgen serve` (`docgen migrate` is the one to change it).
        registry = await stack.enter_async_context(running_registry(settings))
        core = await _start_core(settings, stack, registry, revision_cache=True)
        db, ca, catalogue, links = core.db, core.ca, core.catalogue, core.links
        pepper = load_pepper(settings)
        trust_files = TrustFiles(
            roots=settings.data_dir / "trust-roots.pem", crl=settings.data_dir / "crl.der"
        )
        trust_files.roots.write_bytes(ca.root_pem())
        revocations = RevocationList(db, ca, trust_files.crl)
        keys = SignerKeys(
            db,
            ca,
            pepper,
            PinPolicy(settings.pin_max_attempts, settings.pin_lock_minutes),
            links,
        )
        emeterai = EMeteraiStep(db, core.store, _emeterai_provider(settings, ca, links))
        documents = DocumentService(
            db, catalogue, core.pipeline, keys, revocations, links, core.notifier, emeterai
        )
        jobs = Jobs()
        # Warm processes for uploaded PDFs (their pyHanko imports were ~0.5 s of each check);
        # those for templates start with the first template upload.
        sandbox = Sandbox(
            settings.verify_workers,
            settings.verify_timeout,
            modules=[VERIFY_MODULE],
            recycle_after=settings.verify_recycle_after,
        )
        await stack.enter_async_context(sandbox.running())
        views = PublicViews(db, links, settings.instansi or None, settings.verify_cache_seconds)
        accounts = Accounts(db, links, LoginPolicy.of(settings), core.notifier)
        # Never opened here: the API only defers jobs, in its own transactions.
        chunks = ChunkQueue(job_app(registry, settings))
        yield Parts(
            settings=settings,
            db=db,
            store=core.store,
            store_endpoint=core.store_endpoint,
            ca=ca,
            catalogue=catalogue,
            sandbox=sandbox,
            links=links,
            public_views=views,
            upload_checks=UploadChecks(
                views,
                sandbox,
                trust_files,
                settings.max_upload_bytes,
                settings.verify_per_client,
            ),
            keys=keys,
            revocations=revocations,
            accounts=accounts,
            profiles=UnitProfiles(db, catalogue),
            signers=Signers(db, keys, revocations, accounts),
            documents=documents,
            emeterai=emeterai,
            drafts=Drafts(documents, settings.data_dir / "cache" / "drafts"),
            paraf=Paraf(documents),
            batches=BatchService(
                db,
                catalogue,
                core.store,
                chunks,
                chunk_rows=settings.batch_chunk_rows,
                emeterai_configured=emeterai.configured,
            ),
            bulk_signings=BulkSignings(db, documents, jobs, settings.signing_lease_seconds),
            jobs=jobs,
            notifier=core.notifier,
            checked=Checked(
                db, core.store, core.converter.listening, settings.worker_stalled_seconds
            ),
            # What another instance changes, followed here (run by the lifespan).
            changes=ChangeFollower(
                db.url,
                {
                    ChangeKind.TEMPLATES: core.load_uploaded_templates,
                    ChangeKind.CRL: revocations.catch_up,
                },
                settings.changes_poll_seconds,
            ),
        )
