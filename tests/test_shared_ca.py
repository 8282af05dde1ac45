"""One CA and TSA for a deployment, kept in the registry (real PostgreSQL, real keys): the first
start makes it once however many start together, an upgraded deployment adopts the CA of its
data dir, every data dir becomes a cache of the registry's CA, and a server secret other than
the deployment's opens nothing."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest

from docgen.registry.db import Database, migrate
from docgen.signers.authority import WrongSecretKey, deployment_authority
from signing.pki import CertificateAuthority, generate_private_key
from tests.postgres import database_url, registry

SECRET = secrets.token_bytes(32)


@pytest.fixture()
def registry_url(tmp_path: Path) -> Iterator[str]:
    """A registry of its own, migrated, with no CA yet (a deployment before its first start)."""
    url = database_url(tmp_path / "registri")
    migrate(url)
    yield url


def start(url: str, data_dir: Path, secret: bytes = SECRET) -> CertificateAuthority:
    """What an instance on ``data_dir`` does at start: the deployment's CA, cached there."""

    async def run() -> CertificateAuthority:
        db = Database(url)
        try:
            return await deployment_authority(db, data_dir / "ca", secret)
        finally:
            await db.close()

    return anyio.run(run)


def stored(url: str) -> list[tuple[str, str]]:
    with registry(url) as db:
        return [
            (str(root), str(origin))
            for root, origin in db.execute("SELECT root_pem, origin FROM certificate_authority")
        ]


def test_two_first_starts_at_once_make_one_ca(registry_url: str, tmp_path: Path) -> None:
    together = threading.Barrier(2)

    def first_start(i: int) -> CertificateAuthority:
        together.wait()
        return start(registry_url, tmp_path / f"instans-{i}")

    with ThreadPoolExecutor(2) as pool:
        one, other = pool.map(first_start, range(2))
    assert one.same_as(other)
    assert stored(registry_url) == [(one.root_pem().decode(), "dibuat")]
    for i in range(2):
        cached = CertificateAuthority.load(tmp_path / f"instans-{i}" / "ca")
        assert cached is not None and cached.same_as(one)


def test_an_upgraded_deployment_adopts_its_data_dir_ca(registry_url: str, tmp_path: Path) -> None:
    # What a version before the shared CA left: a CA in the data dir, a signer certified by it.
    before = CertificateAuthority.load_or_create(tmp_path / "lama" / "ca", organization="Pemkab")
    certified = before.issue_signer_certificate(
        generate_private_key().public_key(), name="Drs. Budi", nip=None, jabatan="Camat", unit="U"
    )
    # A second instance's data dir with a CA of its own from before: replaced, not adopted.
    stray = CertificateAuthority.load_or_create(tmp_path / "lain" / "ca")

    adopted = start(registry_url, tmp_path / "lama")
    assert adopted.same_as(before) and adopted.organization == "Pemkab"
    assert stored(registry_url) == [(before.root_pem().decode(), "diadopsi")]
    certified.verify_directly_issued_by(adopted.root_certificate)

    joined = start(registry_url, tmp_path / "lain")
    assert joined.same_as(before) and not joined.same_as(stray)
    cached = CertificateAuthority.load(tmp_path / "lain" / "ca")
    assert cached is not None and cached.same_as(before)
    # Started again, the first keeps its CA; the registry still holds one.
    assert start(registry_url, tmp_path / "lama").same_as(before)
    assert len(stored(registry_url)) == 1


def test_another_secret_key_opens_nothing(registry_url: str, tmp_path: Path) -> None:
    made = start(registry_url, tmp_path / "pertama")
    with pytest.raises(WrongSecretKey, match="DOCGEN_SECRET_KEY tidak dapat membuka"):
        start(registry_url, tmp_path / "kedua", secrets.token_bytes(32))
    assert CertificateAuthority.load(tmp_path / "kedua" / "ca") is None
    assert start(registry_url, tmp_path / "kedua").same_as(made)
