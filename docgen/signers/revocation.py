"""The certificate revocation list of the internal CA: which signer certificates are revoked,
and what a B-LTA revision embeds to prove it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from docgen.pipeline.sign import Trust
from docgen.registry.db import Database
from docgen.registry.models import utcnow
from docgen.registry.numbering import next_in_sequence
from docgen.signers import repository
from signing.pki import CertificateAuthority, RevokedCertificate

__all__ = ["CRL_REFRESH", "RevocationList"]

CRL_REFRESH = timedelta(days=1)


class RevocationList:
    """The published CRL: reissued when a signer is revoked and once it is a day old (it is
    valid for a week). Also written to ``path`` for the verification processes."""

    def __init__(self, db: Database, ca: CertificateAuthority, path: Path) -> None:
        self._db = db
        self._ca = ca
        self.path = path
        self._crl: x509.CertificateRevocationList | None = None

    async def publish(self) -> x509.CertificateRevocationList:
        """Issue a fresh CRL listing every revoked signer certificate and make it current."""
        # In a writing session: a CRL with a higher number never lists fewer certificates.
        async with self._db.writing() as session:
            revoked = await repository.revoked(session)
            crl_number = await next_in_sequence(session, "crl")
            await session.commit()
            entries = [
                RevokedCertificate(
                    serial_number=x509.load_pem_x509_certificate(
                        (s.certificate_pem or "").encode()
                    ).serial_number,
                    revoked_at=s.revoked_at,
                    reason=x509.ReasonFlags.cessation_of_operation,
                )
                for s in revoked
                if s.revoked_at is not None and s.certificate_pem is not None
            ]
            crl = self._ca.issue_crl(entries, crl_number=crl_number)
            tmp = self.path.with_suffix(".tmp")
            await anyio.Path(tmp).write_bytes(crl.public_bytes(serialization.Encoding.DER))
            await anyio.Path(tmp).replace(self.path)
            self._crl = crl
        return crl

    async def current(self) -> x509.CertificateRevocationList:
        """The published CRL, reissued once it is a day old."""
        crl = self._crl
        if crl is None or utcnow() - crl.last_update_utc > CRL_REFRESH:
            crl = await self.publish()
        return crl

    async def trust(self) -> Trust:
        """What a B-LTA revision embeds: our root certificate and the current CRL."""
        crl = await self.current()
        return Trust(
            roots_der=(self._ca.root_certificate.public_bytes(serialization.Encoding.DER),),
            crls_der=(crl.public_bytes(serialization.Encoding.DER),),
        )
