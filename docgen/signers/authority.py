"""The deployment's certificate authority: one root and TSA in the registry for every instance,
their keys sealed under the server secret, each instance's data directory a cache of them (the
worker processes read files)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio

from docgen.registry.db import Database
from docgen.registry.models import DeploymentAuthority
from docgen.signers import repository
from signing.errors import CertificateAuthorityError, WrongSecret
from signing.pki import CertificateAuthority, SealedAuthority

__all__ = ["WrongSecretKey", "deployment_authority"]

log = logging.getLogger(__name__)


class WrongSecretKey(RuntimeError):
    """The server secret does not unseal the deployment's CA (its message, in Indonesian, is for
    the operator)."""


async def deployment_authority(db: Database, ca_dir: Path, secret: bytes) -> CertificateAuthority:
    """The deployment's CA from the registry, kept in ``ca_dir`` as its cache.

    The first instance to start makes it, or adopts the CA its ``ca_dir`` holds from before
    (an upgraded deployment keeps its root, so what it signed stays valid); instances starting
    at once wait for each other on a lock in the registry, so they make one. A ``ca_dir`` holding
    another CA is replaced.

    Raises:
        WrongSecretKey: ``secret`` does not unseal the CA in the registry.
        signing.errors.CertificateAuthorityError: ``ca_dir`` holds a broken CA to adopt, or the
            registry's CA is broken.
        OSError: ``ca_dir`` cannot be read or written.
    """
    async with db.session() as session:
        row = await repository.authority(session)
        if row is None:
            await repository.lock_authority(session)
            row = await repository.authority(session)  # another instance may have made it
            if row is None:
                row = await anyio.to_thread.run_sync(_adopt_or_make, ca_dir, secret)
                session.add(row)
                await session.commit()
                log.info("CA deployment %s dan disimpan di registri", row.origin)
    sealed = SealedAuthority(
        root_pem=row.root_pem.encode(),
        root_key=row.root_key_sealed,
        tsa_pem=row.tsa_pem.encode(),
        tsa_key=row.tsa_key_sealed,
    )
    try:
        ca = await anyio.to_thread.run_sync(CertificateAuthority.unseal, sealed, secret)
    except WrongSecret:
        raise WrongSecretKey(
            f"DOCGEN_SECRET_KEY tidak dapat membuka kunci CA deployment di registri {db.where}: "
            "setiap instans satu deployment harus memakai DOCGEN_SECRET_KEY yang sama"
        ) from None
    await anyio.to_thread.run_sync(_keep_in_cache, ca, ca_dir)
    return ca


def _adopt_or_make(ca_dir: Path, secret: bytes) -> DeploymentAuthority:
    ca = CertificateAuthority.load(ca_dir)
    origin = "diadopsi"
    if ca is None:
        ca, origin = CertificateAuthority.create(), "dibuat"
    sealed = ca.seal(secret)
    return DeploymentAuthority(
        id=repository.DEPLOYMENT,
        root_pem=sealed.root_pem.decode(),
        root_key_sealed=sealed.root_key,
        tsa_pem=sealed.tsa_pem.decode(),
        tsa_key_sealed=sealed.tsa_key,
        origin=origin,
    )


def _keep_in_cache(ca: CertificateAuthority, ca_dir: Path) -> None:
    try:
        cached = CertificateAuthority.load(ca_dir)
    except CertificateAuthorityError:
        cached = None  # broken: written afresh
    if cached is not None and cached.same_as(ca):
        return
    if cached is not None:
        log.warning("CA lain di %s diganti dengan CA deployment dari registri", ca_dir)
    ca.write_to(ca_dir)
