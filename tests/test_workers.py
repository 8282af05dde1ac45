"""The worker processes of bulk work: results in order, and a dying worker costs only its slice."""

from __future__ import annotations

import asyncio
import gc
import io
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader

from docgen.pipeline import workers
from docgen.pipeline.bounds import RenderBounds
from docgen.pipeline.sign import SignatureRequest, SigningKey, Trust
from docgen.pipeline.workers import Failed, WorkerPool
from docgen.registry.statuses import RevisionKind
from docgen.templating.kop import Kop
from signing.pades.sign import SignatureAppearance
from signing.pki.ca import CertificateAuthority
from signing.pki.keys import generate_private_key
from tests.processes import live_children
from tests.test_signing import VERIFY_URL, prepared_pdf

BOUNDS = RenderBounds(seconds=10, memory=256 << 20)


def shout_or_die(items: Sequence[str]) -> list[str]:
    """Runs in a worker: upper-cases each item; "mati" kills the worker process outright."""
    if "mati" in items:
        os._exit(1)
    return [item.upper() for item in items]


@pytest.mark.anyio
async def test_a_worker_that_dies_fails_its_items_and_the_pool_goes_on(tmp_path: Path) -> None:
    pool = WorkerPool(2, tmp_path / "ca", BOUNDS)
    try:
        assert await pool.map(shout_or_die, ["a", "b", "c", "d", "e"]) == ["A", "B", "C", "D", "E"]
        # Two slices: the second holds the item that kills its worker, once and on the retry.
        result = await pool.map(shout_or_die, ["a", "b", "mati", "c"])
        assert result[:2] == ["A", "B"]
        assert all(isinstance(r, Failed) and "berhenti" in r.message for r in result[2:])
        assert await pool.map(shout_or_die, ["x"]) == ["X"]
    finally:
        pool.stop()


def worker_pids() -> set[int]:
    return {p.pid for p in live_children("spawn_main")}


@pytest.mark.anyio
async def test_start_spawns_every_worker_before_any_work(tmp_path: Path) -> None:
    pool = WorkerPool(2, tmp_path / "ca", BOUNDS)
    try:
        await pool.start()
        started = worker_pids()
        assert len(started) == 2
        assert await pool.map(shout_or_die, ["a", "b"]) == ["A", "B"]
        assert worker_pids() == started  # the work went to them
    finally:
        pool.stop()


def frozen_objects(items: Sequence[str]) -> list[int]:
    """Runs in a worker: how many objects it keeps out of garbage collection."""
    return [gc.get_freeze_count() for _ in items]


@pytest.mark.anyio
async def test_workers_keep_their_start_up_objects_out_of_garbage_collection(
    tmp_path: Path,
) -> None:
    # Fonts, pyHanko, the templates' code: walked by every full collection otherwise.
    pool = WorkerPool(2, tmp_path / "ca", BOUNDS)
    try:
        assert all(count > 50_000 for count in await pool.map(frozen_objects, ["a", "b"]))
    finally:
        pool.stop()


SERVICE_MODULES = (
    "docgen.runtime",
    "docgen.registry.db",
    "docgen.documents.service",
    "sqlalchemy",
    "fastapi",
)


def service_modules_after_work(items: Sequence[str]) -> list[str]:
    """Runs in a worker: the steps' own imports (nothing to do, so only their imports run),
    then which of the service's modules the process has loaded."""
    workers.render_rows([], None, None)  # type: ignore[arg-type]
    workers.stamp_pdfs([], "templat")
    return [name for name in SERVICE_MODULES if name in sys.modules]


@pytest.mark.anyio
async def test_workers_start_without_loading_the_service(tmp_path: Path) -> None:
    # A worker loads what rendering, stamping and signing need, not the registry and web stack
    # (that doubled its start-up, paid at the first batch).
    pool = WorkerPool(1, tmp_path / "ca", BOUNDS)
    try:
        assert await pool.map(service_modules_after_work, ["x"]) == []
    finally:
        pool.stop()


@pytest.fixture()
def in_worker_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CertificateAuthority]:
    """This process set up as a worker whose CA is a new one in ``tmp_path``."""
    ca = CertificateAuthority.load_or_create(tmp_path / "ca", organization="Pemkab Sukamaju")
    monkeypatch.setattr(workers, "_ca_dir", tmp_path / "ca")
    workers._certificate_authority.cache_clear()
    yield ca
    workers._certificate_authority.cache_clear()


def signing_key(ca: CertificateAuthority) -> SigningKey:
    key = generate_private_key()
    certificate = ca.issue_signer_certificate(
        key.public_key(), name="BUDI", nip=None, jabatan="Camat", unit="Sukamaju", crl_url=None
    )
    return SigningKey.of(key, certificate)


def test_signing_chunks_share_one_event_loop(
    in_worker_ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    # asyncio.run swaps the SIGINT handler of a main thread and, putting it back, formats the
    # repr of every PDF the chunk signed: ~38 ms a chunk. Chunks run on the worker's own loop.
    monkeypatch.setattr(asyncio, "run", None)  # any use of it fails
    request = SignatureRequest(
        field_name="ttd_pihak_pertama",
        appearance=SignatureAppearance("BUDI", "Camat", VERIFY_URL),
        reason="Menandatangani",
        certify=False,
        archive=False,
    )
    chunk = [(prepared_pdf(), request)]
    trust = Trust((in_worker_ca.root_certificate.public_bytes(Encoding.DER),), ())
    args = (signing_key(in_worker_ca), trust)
    first = workers.sign_pdfs(chunk, *args)
    second = workers.sign_pdfs(chunk, *args)
    for result in (first, second):
        [[(kind, signed)]] = result
        assert kind == RevisionKind.SIGNED
        assert [s.field_name for s in PdfFileReader(io.BytesIO(signed)).embedded_signatures] == [
            "ttd_pihak_pertama"
        ]


def test_rows_render_from_their_checked_data_without_checking_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The data of a document or a batch row is checked once, when it is accepted; the worker
    # step renders what was checked.
    from docgen.pipeline import render
    from docgen.templating.catalogue import load_template
    from docgen.templating.validation import validate_data
    from tests.conftest import REPO, pakta_data

    template = load_template(REPO / "templates" / "pakta-integritas")
    clean = validate_data(template.manifest, pakta_data())

    def checked_again(*_: object) -> None:
        raise AssertionError("the data was checked again")

    monkeypatch.setattr(render, "validate_data", checked_again)
    monkeypatch.setattr(workers, "_render_bounds", BOUNDS)
    [docx] = workers.render_rows([(clean, "800.1/1/2024")], template, Kop())
    assert isinstance(docx, bytes) and docx.startswith(b"PK")


def test_a_signature_that_fails_in_a_worker_comes_back_as_its_error(
    in_worker_ca: CertificateAuthority,
) -> None:
    request = SignatureRequest(
        field_name="ttd_tidak_ada",  # the PDF has no such field: pyHanko cannot sign
        appearance=SignatureAppearance("BUDI", "Camat", VERIFY_URL),
        reason="Menandatangani",
        certify=False,
        archive=False,
    )
    [failed] = workers.sign_pdfs(
        [(prepared_pdf(), request)], signing_key(in_worker_ca), Trust((), ())
    )
    assert isinstance(failed, Failed)
    error = failed.error()
    assert (error.error, error.status_code) == ("SignerFailed", 502)
    assert "ttd_tidak_ada" in error.detail


def test_a_signing_chunk_collects_once_per_document_then_puts_the_thresholds_back(
    in_worker_ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each signature leaves cyclic garbage: collected once per document, signed or failed, with
    # the automatic young collections held off meanwhile.
    requests = [
        SignatureRequest(field, SignatureAppearance("BUDI", "Camat", VERIFY_URL), "Menandatangani",
                         certify=False, archive=False)
        for field in ("ttd_pihak_pertama", "ttd_tidak_ada")
    ]  # fmt: skip
    before = gc.get_threshold()
    collections: list[tuple[int, int]] = []
    collect = gc.collect

    def counted(generation: int = 2) -> int:
        collections.append((generation, gc.get_threshold()[0]))
        return collect(generation)

    monkeypatch.setattr(gc, "collect", counted)
    signed, failed = workers.sign_pdfs(
        [(prepared_pdf(), request) for request in requests],
        signing_key(in_worker_ca),
        Trust((in_worker_ca.root_certificate.public_bytes(Encoding.DER),), ()),
    )
    assert not isinstance(signed, Failed) and isinstance(failed, Failed)
    assert collections == [(0, workers._SIGNING_YOUNG_THRESHOLD)] * 2
    assert gc.get_threshold() == before


def fast_paths_in_use(items: Sequence[str]) -> list[bool]:
    """Runs in a worker: whether it takes the fast paths."""
    import signing.fast

    return [signing.fast.enabled() for _ in items]


@pytest.mark.anyio
@pytest.mark.parametrize("fast", [True, False])
async def test_workers_take_the_paths_the_service_is_set_to(tmp_path: Path, fast: bool) -> None:
    pool = WorkerPool(2, tmp_path / "ca", BOUNDS, fast_paths=fast)
    try:
        assert await pool.map(fast_paths_in_use, ["a", "b"]) == [fast, fast]
    finally:
        pool.stop()
