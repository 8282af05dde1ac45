"""The internal certificate authority: a root CA, a TSA certificate, and signer certificates.

This is the embedded default for development and tests (production uses a PSrE or the agency's
CA). Files under the CA directory::

    root.pem        root CA certificate
    root-key.pem    root CA private key (PKCS#8, mode 0600)
    tsa.pem         time-stamping certificate, issued by the root
    tsa-key.pem     time-stamping private key (PKCS#8, mode 0600)

A deployment of many processes keeps one CA in its registry instead (``seal`` and ``unseal``
of :class:`CertificateAuthority`), each process's directory a cache of it (``write_to``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from signing.errors import CertificateAuthorityError
from signing.pki.keys import seal_with_secret, unseal_with_secret
from signing.pki.tsa import InternalTimeStamper, TsaKey

__all__ = [
    "DOCUMENT_SIGNING_EKU",
    "CertificateAuthority",
    "RevokedCertificate",
    "SealedAuthority",
    "common_name",
]

ROOT_CN: Final = "docgen Root CA"
COMMON_NAME_MAX: Final = 64
TSA_CN: Final = "docgen Time Stamping Authority"
ROOT_KEY_BITS: Final = 3072
# The TSA signs four time stamps per document with three signers (one per signature, one for
# the archive): P-256 (128-bit security, as RSA-3072) signs in ~0.02 ms, RSA-3072 in ~0.9 ms.
# A TSA key made before (RSA) is loaded as it is.
TSA_CURVE: Final = ec.SECP256R1()
ROOT_VALIDITY: Final = timedelta(days=3652)
TSA_VALIDITY: Final = timedelta(days=5 * 365)
# Backdate notBefore a little so a verifier whose clock is slightly behind still accepts it.
_BACKDATE: Final = timedelta(hours=1)
# id-kp-documentSigning (RFC 9336). emailProtection is issued beside it because NSS (pdfsig,
# Firefox, Thunderbird) checks signer certificates for the S/MIME usage.
DOCUMENT_SIGNING_EKU: Final = ObjectIdentifier("1.3.6.1.5.5.7.3.36")

_ROOT_CERT = "root.pem"
_ROOT_KEY = "root-key.pem"
_TSA_CERT = "tsa.pem"
_TSA_KEY = "tsa-key.pem"
_LOCK = ".lock"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RevokedCertificate:
    """A certificate the root has revoked: its serial number, since when, and why."""

    serial_number: int
    revoked_at: datetime  # aware
    reason: x509.ReasonFlags | None = None


def common_name(name: str) -> str:
    """``name`` as a certificate's common name: at most 64 characters (RFC 5280's
    ub-common-name, which ``cryptography`` enforces). A longer name loses its trailing degrees
    first ("Prof. Dr. H. MUHAMMAD ..., S.H., M.H., M.Kn." keeps "S.H." as long as it fits),
    then its last words. The full name stays where people read it: the registry, the signature's
    appearance and the verification page."""
    name = " ".join(name.split())
    if len(name) <= COMMON_NAME_MAX:
        return name
    person, *degrees = name.split(",")
    while degrees and len(",".join([person, *degrees])) > COMMON_NAME_MAX:
        degrees.pop()
    shortened = ",".join([person, *degrees]).strip()
    if len(shortened) <= COMMON_NAME_MAX:
        return shortened
    cut = shortened[: COMMON_NAME_MAX + 1].rsplit(" ", 1)[0]
    return cut if cut and len(cut) <= COMMON_NAME_MAX else shortened[:COMMON_NAME_MAX]


def _end_entity(
    issuer: x509.Certificate,
    public_key: CertificateIssuerPublicKeyTypes,
    subject: x509.Name,
    not_after: datetime,
) -> x509.CertificateBuilder:
    """What every certificate the root issues shares: a non-CA key for signing, with key ids."""
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - _BACKDATE)
        .not_valid_after(min(not_after, issuer.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


@contextlib.contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    # Several workers may start at once on a fresh directory: only one may create the CA.
    with open(directory / _LOCK, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # umask may have narrowed or the file may have existed
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _key_pem(key: TsaKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_key(path: Path) -> TsaKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateAuthorityError(f"{path} does not hold an RSA or EC private key")
    return key


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_pair(cert_path: Path, key_path: Path, what: str) -> tuple[x509.Certificate, TsaKey]:
    """A certificate and its key; raises CertificateAuthorityError if unreadable or mismatched."""
    try:
        cert, key = _load_cert(cert_path), _load_key(key_path)
    except ValueError as exc:
        raise CertificateAuthorityError(f"unreadable {what} files: {exc}") from exc
    if not _same_public_key(cert, key):
        raise CertificateAuthorityError(f"{what} key does not match the {what} certificate")
    return cert, key


def _check_issued_by_root(tsa_cert: x509.Certificate, root_cert: x509.Certificate) -> None:
    try:
        tsa_cert.verify_directly_issued_by(root_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise CertificateAuthorityError("the TSA certificate was not issued by the root") from exc


@dataclass(frozen=True)
class SealedAuthority:
    """A CA as a registry keeps it: certificates in PEM, keys sealed under the server secret."""

    root_pem: bytes
    root_key: bytes
    tsa_pem: bytes
    tsa_key: bytes


def _same_public_key(cert: x509.Certificate, key: TsaKey) -> bool:
    return cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]


class CertificateAuthority:
    """Root CA and TSA kept as files under one directory.

    Build it with :meth:`load_or_create`; the constructor takes already loaded material.
    """

    def __init__(
        self,
        *,
        organization: str,
        root_certificate: x509.Certificate,
        root_key: rsa.RSAPrivateKey,
        tsa_certificate: x509.Certificate,
        tsa_key: TsaKey,
    ) -> None:
        self.organization = organization
        self.root_certificate = root_certificate
        self.tsa_certificate = tsa_certificate
        self._root_key = root_key
        self._tsa_key = tsa_key
        self._timestamper: InternalTimeStamper | None = None

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(cls, *, organization: str = "docgen") -> CertificateAuthority:
        """A new root and TSA, kept in memory only (:meth:`write_to` keeps them as files)."""
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=ROOT_KEY_BITS)
        root_cert = _make_root(root_key, organization)
        tsa_key = ec.generate_private_key(TSA_CURVE)
        return cls(
            organization=organization,
            root_certificate=root_cert,
            root_key=root_key,
            tsa_certificate=_make_tsa(root_cert, root_key, tsa_key, organization),
            tsa_key=tsa_key,
        )

    @classmethod
    def load_or_create(
        cls, directory: Path, *, organization: str = "docgen"
    ) -> CertificateAuthority:
        """Load the CA from ``directory``, creating the root and TSA on first use.

        Idempotent and safe to call from several processes at once (a lock file serialises
        creation). A root without its TSA certificate gets a new TSA; ``organization`` only
        applies to material created by this call.

        Raises:
            CertificateAuthorityError: the directory holds part of a CA that cannot be completed
                (e.g. a certificate without its key), or a key that does not match its
                certificate, or a TSA certificate the root did not issue.
            OSError: the directory cannot be created, read or written.
        """
        ca = cls._from_directory(Path(directory), organization, create=True)
        assert ca is not None
        return ca

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority | None:
        """The CA kept in ``directory``, or None when it holds none (no root); a root without
        its TSA gets a new TSA, as in :meth:`load_or_create`.

        Raises:
            CertificateAuthorityError, OSError: as :meth:`load_or_create`.
        """
        return cls._from_directory(Path(directory), "docgen", create=False)

    @classmethod
    def _from_directory(
        cls, directory: Path, organization: str, *, create: bool
    ) -> CertificateAuthority | None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _directory_lock(directory):
            root_cert_path, root_key_path = directory / _ROOT_CERT, directory / _ROOT_KEY
            tsa_cert_path, tsa_key_path = directory / _TSA_CERT, directory / _TSA_KEY
            have = {
                p.name
                for p in (root_cert_path, root_key_path, tsa_cert_path, tsa_key_path)
                if p.exists()
            }
            if not have and not create:
                return None
            if not have:
                root_key = rsa.generate_private_key(public_exponent=65537, key_size=ROOT_KEY_BITS)
                root_cert = _make_root(root_key, organization)
                _write_atomically(root_key_path, _key_pem(root_key), 0o600)
                _write_atomically(
                    root_cert_path, root_cert.public_bytes(serialization.Encoding.PEM), 0o644
                )
            elif {_ROOT_CERT, _ROOT_KEY} <= have:
                root_cert, loaded_root_key = _load_pair(root_cert_path, root_key_path, "root")
                if not isinstance(loaded_root_key, rsa.RSAPrivateKey):
                    raise CertificateAuthorityError(f"{root_key_path} is not an RSA key")
                root_key = loaded_root_key
            else:
                raise CertificateAuthorityError(
                    f"{directory} holds an incomplete CA (found {sorted(have)}); "
                    "the root certificate or its key is missing"
                )

            if {_TSA_CERT, _TSA_KEY} <= have:
                tsa_cert, tsa_key = _load_pair(tsa_cert_path, tsa_key_path, "TSA")
                _check_issued_by_root(tsa_cert, root_cert)
            elif _TSA_CERT in have or _TSA_KEY in have:
                raise CertificateAuthorityError(
                    f"{directory} holds only one of {_TSA_CERT} and {_TSA_KEY}"
                )
            else:
                org = _organization_of(root_cert, default=organization)
                tsa_key = ec.generate_private_key(TSA_CURVE)
                tsa_cert = _make_tsa(root_cert, root_key, tsa_key, org)
                _write_atomically(tsa_key_path, _key_pem(tsa_key), 0o600)
                _write_atomically(
                    tsa_cert_path, tsa_cert.public_bytes(serialization.Encoding.PEM), 0o644
                )
        return cls(
            organization=_organization_of(root_cert, default=organization),
            root_certificate=root_cert,
            root_key=root_key,
            tsa_certificate=tsa_cert,
            tsa_key=tsa_key,
        )

    @classmethod
    def unseal(cls, sealed: SealedAuthority, secret: bytes) -> CertificateAuthority:
        """The CA that :meth:`seal` sealed under ``secret``.

        Raises:
            WrongSecret: ``secret`` is not the one it was sealed under (or a blob was altered).
            KeyBlobError: a sealed key is malformed.
            CertificateAuthorityError: a certificate is unreadable, a key does not match its
                certificate, the root key is not RSA, or the root did not issue the TSA.
        """
        try:
            root_cert = x509.load_pem_x509_certificate(sealed.root_pem)
            tsa_cert = x509.load_pem_x509_certificate(sealed.tsa_pem)
        except ValueError as exc:
            raise CertificateAuthorityError(f"unreadable sealed CA certificate: {exc}") from exc
        root_key = unseal_with_secret(sealed.root_key, secret, "root")
        tsa_key = unseal_with_secret(sealed.tsa_key, secret, "tsa")
        if not isinstance(root_key, rsa.RSAPrivateKey):
            raise CertificateAuthorityError("the sealed root key is not an RSA key")
        for what, cert, key in (("root", root_cert, root_key), ("TSA", tsa_cert, tsa_key)):
            if not _same_public_key(cert, key):
                raise CertificateAuthorityError(f"{what} key does not match the {what} certificate")
        _check_issued_by_root(tsa_cert, root_cert)
        return cls(
            organization=_organization_of(root_cert, default="docgen"),
            root_certificate=root_cert,
            root_key=root_key,
            tsa_certificate=tsa_cert,
            tsa_key=tsa_key,
        )

    # -- keeping ------------------------------------------------------------------------

    def seal(self, secret: bytes) -> SealedAuthority:
        """Certificates as PEM, private keys sealed under the server ``secret``
        (:func:`signing.pki.keys.seal_with_secret`), for a registry shared by many processes.

        Raises:
            ValueError: ``secret`` is empty.
        """
        return SealedAuthority(
            root_pem=self.root_pem(),
            root_key=seal_with_secret(self._root_key, secret, "root"),
            tsa_pem=self.tsa_certificate.public_bytes(serialization.Encoding.PEM),
            tsa_key=seal_with_secret(self._tsa_key, secret, "tsa"),
        )

    def same_as(self, other: CertificateAuthority) -> bool:
        """Whether ``other`` has this root and this TSA certificate."""
        return (
            self.root_certificate == other.root_certificate
            and self.tsa_certificate == other.tsa_certificate
        )

    def write_to(self, directory: Path) -> None:
        """Keep this CA as the files of ``directory`` (see the module), replacing any there:
        what :meth:`load_or_create` loads, in other processes too.

        Raises:
            OSError: the directory cannot be created or written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Under the lock readers take: none sees a mix of two CAs.
        with _directory_lock(directory):
            _write_atomically(directory / _ROOT_KEY, _key_pem(self._root_key), 0o600)
            _write_atomically(directory / _ROOT_CERT, self.root_pem(), 0o644)
            _write_atomically(directory / _TSA_KEY, _key_pem(self._tsa_key), 0o600)
            _write_atomically(
                directory / _TSA_CERT,
                self.tsa_certificate.public_bytes(serialization.Encoding.PEM),
                0o644,
            )

    # -- public material ----------------------------------------------------------------

    def root_pem(self) -> bytes:
        """The root certificate in PEM, for trust stores and the public download."""
        return self.root_certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """Certificates to embed beside a signer certificate issued by this CA."""
        return (self.root_certificate,)

    # -- issuing ------------------------------------------------------------------------

    def issue_signer_certificate(
        self,
        public_key: CertificateIssuerPublicKeyTypes,
        *,
        name: str,
        nip: str | None,
        jabatan: str,
        unit: str,
        valid_days: int = 730,
        crl_url: str | None = None,
    ) -> x509.Certificate:
        """Issue a document-signing certificate for a person.

        Subject: CN=name (as far as X.509 allows, see :func:`common_name`), serialNumber=NIP
        (when given), title=jabatan, OU=unit, O=organization. The validity ends at the latest
        when the root's does. ``crl_url`` (where the CRL from
        :meth:`issue_crl` is published) becomes the certificate's CRL distribution point.

        Raises:
            ValueError: ``name`` is empty, ``valid_days`` is not positive, or a subject field is
                rejected by ``cryptography`` (e.g. an empty string).
        """
        if not name.strip():
            raise ValueError("signer name must not be empty")
        if valid_days <= 0:
            raise ValueError("valid_days must be positive")
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name(name))]
        if nip:
            attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, nip))
        if jabatan:
            attributes.append(x509.NameAttribute(NameOID.TITLE, jabatan))
        if unit:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization))
        not_after = _now() + timedelta(days=valid_days)
        builder = _end_entity(
            self.root_certificate, public_key, x509.Name(attributes), not_after
        ).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU]),
            critical=False,
        )
        if crl_url:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(crl_url)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
        return builder.sign(self._root_key, hashes.SHA256())

    def issue_crl(
        self,
        revoked: Sequence[RevokedCertificate],
        *,
        crl_number: int,
        next_update: timedelta = timedelta(days=7),
    ) -> x509.CertificateRevocationList:
        """A full CRL signed by the root, listing ``revoked``; thisUpdate is now.

        The root issues every signer and TSA certificate directly, so this one list covers them
        all. ``crl_number`` must grow with each list the root publishes (RFC 5280 §5.2.3).

        Raises:
            ValueError: ``crl_number`` is negative, ``next_update`` is not positive, a
                ``revoked_at`` is naive, or a serial number is listed twice.
        """
        if crl_number < 0:
            raise ValueError("crl_number must not be negative")
        if next_update <= timedelta(0):
            raise ValueError("next_update must be positive")
        serials = [entry.serial_number for entry in revoked]
        if len(set(serials)) != len(serials):
            raise ValueError("a serial number is listed twice")
        now = _now()
        root_ski = self.root_certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root_certificate.subject)
            .last_update(now)
            .next_update(now + next_update)
            .add_extension(x509.CRLNumber(crl_number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
                critical=False,
            )
        )
        for entry in revoked:
            if entry.revoked_at.tzinfo is None or entry.revoked_at.utcoffset() is None:
                raise ValueError("revoked_at must be timezone-aware")
            revoked_cert = (
                x509.RevokedCertificateBuilder()
                .serial_number(entry.serial_number)
                .revocation_date(entry.revoked_at.astimezone(UTC))
            )
            # RFC 5280 §5.3.1: leave the reason out rather than say "unspecified".
            if entry.reason is not None and entry.reason != x509.ReasonFlags.unspecified:
                revoked_cert = revoked_cert.add_extension(
                    x509.CRLReason(entry.reason), critical=False
                )
            builder = builder.add_revoked_certificate(revoked_cert.build())
        return builder.sign(self._root_key, hashes.SHA256())

    def timestamper(self) -> InternalTimeStamper:
        """The in-process RFC 3161 TSA; one instance per CA object (it caches size estimates)."""
        if self._timestamper is None:
            self._timestamper = InternalTimeStamper(
                self.tsa_certificate, self._tsa_key, chain=self.chain
            )
        return self._timestamper


def _organization_of(cert: x509.Certificate, *, default: str) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else default


def _make_root(key: rsa.RSAPrivateKey, organization: str) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, ROOT_CN),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + ROOT_VALIDITY)
        # pathLen 0: the root issues end-entity certificates (signers, TSA) directly.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _make_tsa(
    root_cert: x509.Certificate,
    root_key: rsa.RSAPrivateKey,
    tsa_key: TsaKey,
    organization: str,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, TSA_CN),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    return (
        _end_entity(root_cert, tsa_key.public_key(), subject, _now() + TSA_VALIDITY)
        # RFC 3161 §2.3: the TSA certificate has exactly this EKU, marked critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
