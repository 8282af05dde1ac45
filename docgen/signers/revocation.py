"""The certificate revocation list of the deployment's CA: which signer certificates are revoked,
and what a B-LTA revision embeds to prove it.

One CRL for the whole deployment, kept in the registry (``published_crls``): the instance where
a signer is revoked issues a new one in the transaction that revokes, stores its DER there and
announces it (:mod:`docgen.registry.changes`); every other instance loads it when the notice
arrives. Its number comes from one sequence, taken under the deployment's write lock, so numbers
only grow and a higher one never lists fewer certificates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.ext.asyncio import AsyncSession

from docgen.pipeline.sign import Trust
from docgen.registry.changes import Change, ChangeKind, announce
from docgen.registry.db import Database
from docgen.registry.models import PublishedCrl, Signer, utcnow
from docgen.registry.numbering import next_in_sequence
from docgen.signers import repository
from signing.pki import CertificateAuthority, RevokedCertificate

__all__ = ["CRL_REFRESH", "Crl", "RevocationList", "crl_number"]

CRL_REFRESH = timedelta(days=1)

Crl = x509.CertificateRevocationList


def crl_number(crl: Crl) -> int:
    """The CRL's number (its CRLNumber extension; our CA always writes one)."""
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


class RevocationList:
    """The deployment's current CRL as this instance holds it: reissued when a signer is
    revoked and once it is a day old (it is valid for a week). Also written to ``path`` for the
    verification processes."""

    def __init__(self, db: Database, ca: CertificateAuthority, path: Path) -> None:
        self._db = db
        self._ca = ca
        self.path = path
        self._crl: Crl | None = None
        # The file and the held CRL change together, to a higher number only (in this process:
        # a notice and a publication of this instance may arrive together).
        self._adopting = anyio.Lock()

    async def issue(self, session: AsyncSession) -> Crl:
        """In the caller's transaction (a writing one, which holds the deployment's write
        lock): a new CRL listing every revoked signer certificate that transaction sees,
        stored and announced. The caller commits, then :meth:`adopt` s it."""
        revoked = await repository.revoked(session)
        number = await next_in_sequence(session, "crl")
        crl = self._ca.issue_crl(_entries(revoked), crl_number=number)
        session.add(
            PublishedCrl(
                number=number,
                der=crl.public_bytes(serialization.Encoding.DER),
                issued_at=crl.last_update_utc,
            )
        )
        await announce(session, Change(ChangeKind.CRL, str(number)))
        return crl

    async def refresh(self) -> Crl:
        """The newest stored CRL if it is fresh and lists every revoked certificate, else a new
        one: at start, and once the held one is a day old. Under the write lock, so instances
        doing it together publish one CRL, not one each."""
        async with self._db.writing() as session:
            stored = await repository.newest_crl(session)
            crl = x509.load_der_x509_crl(stored.der) if stored is not None else None
            if crl is None or _stale(crl) or not _lists(crl, await repository.revoked(session)):
                crl = await self.issue(session)
            await session.commit()
        await self.adopt(crl)
        return crl

    async def catch_up(self) -> None:
        """Load the newest stored CRL if it is newer than the one held: when another instance
        announced one, and as a backstop. One query when it is not."""
        async with self._db.session() as session:
            number = await repository.newest_crl_number(session)
            if number <= self.number:
                return
            stored = await session.get(PublishedCrl, number)
        if stored is not None:
            await self.adopt(x509.load_der_x509_crl(stored.der))

    async def adopt(self, crl: Crl) -> None:
        """Make ``crl`` current here (memory and file) unless a higher number already is."""
        async with self._adopting:
            if crl_number(crl) <= self.number:
                return
            tmp = self.path.with_suffix(".tmp")
            await anyio.Path(tmp).write_bytes(crl.public_bytes(serialization.Encoding.DER))
            await anyio.Path(tmp).replace(self.path)
            self._crl = crl

    @property
    def number(self) -> int:
        """The number of the CRL held; 0 before the first."""
        return 0 if self._crl is None else crl_number(self._crl)

    async def current(self) -> Crl:
        """The current CRL, reissued once it is a day old."""
        crl = self._crl
        if crl is None or _stale(crl):
            crl = await self.refresh()
        return crl

    async def trust(self) -> Trust:
        """What a B-LTA revision embeds: our root certificate and the current CRL."""
        crl = await self.current()
        return Trust(
            roots_der=(self._ca.root_certificate.public_bytes(serialization.Encoding.DER),),
            crls_der=(crl.public_bytes(serialization.Encoding.DER),),
        )


def _serial(signer: Signer) -> int:
    return x509.load_pem_x509_certificate((signer.certificate_pem or "").encode()).serial_number


def _entries(revoked: Sequence[Signer]) -> list[RevokedCertificate]:
    return [
        RevokedCertificate(
            serial_number=_serial(s),
            revoked_at=s.revoked_at,
            reason=x509.ReasonFlags.cessation_of_operation,
        )
        for s in revoked
        if s.revoked_at is not None and s.certificate_pem is not None
    ]


def _lists(crl: Crl, revoked: Sequence[Signer]) -> bool:
    """Whether ``crl`` lists every revoked signer certificate."""
    return all(
        crl.get_revoked_certificate_by_serial_number(entry.serial_number) is not None
        for entry in _entries(revoked)
    )


def _stale(crl: Crl) -> bool:
    return utcnow() - crl.last_update_utc > CRL_REFRESH
