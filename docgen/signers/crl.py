"""The certificate revocation list of the internal CA: which signer certificates are revoked."""

from __future__ import annotations

from datetime import timedelta

import anyio
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from docgen.registry.models import Signer, utcnow
from docgen.registry.numbering import next_in_sequence
from docgen.runtime import Runtime
from signing.pki.ca import RevokedCertificate

CRL_REFRESH = timedelta(days=1)


async def publish_crl(rt: Runtime) -> x509.CertificateRevocationList:
    """Issue a fresh CRL listing every revoked signer certificate and make it current.

    The CRL is also written to ``rt.crl_path`` for the verification worker processes.
    """
    # Under the write lock: a CRL with a higher number never lists fewer certificates.
    async with rt.write_lock:
        async with rt.db.session() as session:
            revoked = (
                await session.scalars(select(Signer).where(Signer.revoked_at.is_not(None)))
            ).all()
            crl_number = await next_in_sequence(session, "crl")
            await session.commit()
        entries = [
            RevokedCertificate(
                serial_number=x509.load_pem_x509_certificate(
                    s.certificate_pem.encode()
                ).serial_number,
                revoked_at=s.revoked_at,
                reason=x509.ReasonFlags.cessation_of_operation,
            )
            for s in revoked
            if s.revoked_at is not None
        ]
        crl = rt.ca.issue_crl(entries, crl_number=crl_number)
        tmp = rt.crl_path.with_suffix(".tmp")
        await anyio.Path(tmp).write_bytes(crl.public_bytes(serialization.Encoding.DER))
        await anyio.Path(tmp).replace(rt.crl_path)
        rt.crl = crl
    return crl


async def current_crl(rt: Runtime) -> x509.CertificateRevocationList:
    """The published CRL, reissued once it is a day old (it is valid for a week)."""
    crl = rt.crl
    if crl is None or utcnow() - crl.last_update_utc > CRL_REFRESH:
        crl = await publish_crl(rt)
    return crl
