"""PAdES signatures into the empty signature fields of a prepared PDF.

Each signature is an incremental update (earlier signatures stay valid), PAdES baseline
(``/ETSI.CAdES.detached``), SHA-256, with an RFC 3161 signature time stamp and the certificate
chain embedded. The visible appearance is a QR code of the verification URL beside the text
"Ditandatangani secara elektronik oleh", the signer's name, jabatan and the time in the zone
the appearance names (WIB, WITA or WIT).
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import string
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import anyio
from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pyhanko.pdf_utils import misc
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.basic import SimpleFontEngineFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import (
    AxisAlignment,
    LayoutError,
    Margins,
    SimpleBoxLayoutRule,
)
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.stamp import BaseStampStyle, QRStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

import signing.fast
from signing.errors import (
    InvalidPdf,
    SignatureCreationFailed,
    SignatureFieldAlreadySigned,
    SignatureFieldNotFound,
)
from signing.fast import cms as fast_cms
from signing.fast.appearance import VerificationQRStyle
from signing.fast.fonts import LIBERATION_SANS, EmbeddedFontFactory
from signing.fast.objects import preload_signature_dictionaries
from signing.fast.pdf_reading import open_pdf
from signing.fast.writing import IncrementalWriter
from signing.validate.validation_data import der
from signing.waktu import Zona, format_waktu

__all__ = [
    "DEFAULT_REASON",
    "SignatureAppearance",
    "SigningIdentity",
    "sign_field",
    "sign_pdf",
    "warm_up",
]

logger = logging.getLogger(__name__)

DEFAULT_REASON: Final = "Menyetujui isi dokumen"
_MD_ALGORITHM: Final = "sha256"
FONT_PATH: Final = LIBERATION_SANS
STAMP_TEXT: Final = "Ditandatangani secara elektronik oleh\n%(nama)s\n%(jabatan)s\n%(waktu)s"
# pyHanko text boxes do not wrap, and a stamp shrinks as a whole to fit its field: one long
# jabatan would make everything tiny. Wrap at about the width of the first line instead.
_WRAP_COLUMNS: Final = 40


@dataclass(frozen=True)
class SigningIdentity:
    """The signer's key and certificate, and the chain (intermediates + root) to embed."""

    private_key: RSAPrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class SignatureAppearance:
    """What the visible signature shows; its time is written in ``zona`` (the zone of the
    unit the document belongs to)."""

    name: str
    jabatan: str
    verify_url: str
    zona: Zona = Zona.WIB


class _RsaKeySigner(Signer):
    """CMS signer over an in-memory ``cryptography`` RSA key (PKCS#1 v1.5, SHA-256).

    pyHanko's SimpleSigner re-parses the key from DER on every signature, which costs ~35 ms
    for the RSA consistency check; this signs with the key object as given.

    With the fast paths on (:mod:`signing.fast`), the PAdES container that sign_pdf asks for is
    assembled by :mod:`signing.fast.cms` from DER pieces prepared once per signer: the same
    SignedData pyHanko's Signer.async_sign builds, without its asn1crypto re-encoding (measured
    there). Any other request, and every request with the fast paths off, goes to pyHanko.
    """

    def __init__(self, identity: SigningIdentity) -> None:
        self._identity = identity
        signing_cert, cert_registry = _signer_certificates(identity.certificate, identity.chain)
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=cert_registry,
            signature_mechanism=_SHA256_RSA_MECHANISM,
        )

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        return self._identity.private_key.sign(
            data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm)
        )

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: bool = False,
        use_pades: bool = False,
        timestamper: TimeStamper | None = None,
        signed_attr_settings: PdfCMSSignedAttributes | None = None,
        is_pdf_sig: bool = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        settings = signed_attr_settings or PdfCMSSignedAttributes()
        if not (
            signing.fast.enabled()
            and use_pades
            and is_pdf_sig
            and not dry_run
            and timestamper is not None
            and digest_algorithm == _MD_ALGORITHM
            and encap_content_info is None
            and settings.adobe_revinfo_attr is None
            and settings.cades_signed_attrs is None
            and self.signed_attr_prov_spec is None
            and self.unsigned_attr_prov_spec is None
            and not self.attribute_certs
        ):
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        identity = self._identity
        parts = fast_cms.signer_parts(identity.certificate, identity.chain)
        signed_attributes = fast_cms.pades_signed_attributes(parts, data_digest)
        signature = await self.async_sign_raw(signed_attributes, digest_algorithm)
        # The signature time stamp: a token over the signature value (RFC 3161 / CAdES-T).
        token = await timestamper.async_timestamp(
            hashlib.sha256(signature).digest(), digest_algorithm
        )
        return cms.ContentInfo.load(
            fast_cms.pades_signed_data(parts, signed_attributes, signature, token.dump())
        )


@functools.lru_cache(maxsize=256)  # signers active in a bulk run; each entry a few KB
def _signer_certificates(
    certificate: x509.Certificate, chain: tuple[x509.Certificate, ...]
) -> tuple[asn1_x509.Certificate, SimpleCertificateStore]:
    """The signing certificate and the chain as pyHanko's Signer keeps them (only read while
    signing). Keyed by the certificate and the chain (``cryptography`` certificates compare and
    hash by their DER), so a signer never gets another's."""
    return (
        asn1_x509.Certificate.load(der(certificate)),
        SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(der(c)) for c in chain]),
    )


_SHA256_RSA_MECHANISM: Final = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"})


_FONT_SIZE: Final = 10

# What the signature container holds besides the certificates, the RSA signature, the time stamp
# token and the signer's issuer and serial number: version numbers, algorithm identifiers,
# attribute types, the message digest and the DER headers around them (278 bytes measured for a
# PAdES signature with SHA-256; this leaves room to spare).
_CMS_STRUCTURE_BYTES: Final = 512


@functools.cache
def _font_factory() -> FontEngineFactory:
    """The embedded TrueType font if it can be loaded and shaped here, else standard Courier."""
    try:
        # All ten digits whatever the time shows: one signer's appearances then embed the same
        # subset all day (and month), compressed once (see signing.fast.fonts).
        factory = EmbeddedFontFactory(FONT_PATH, _FONT_SIZE, always_embed=string.digits)
        # Fail now, not in the middle of a signature, if fontTools/HarfBuzz are missing or broken.
        factory.create_font_engine(PdfFileWriter()).shape("Ditandatangani 27 Juni")
        return factory
    except Exception:  # any failure means: use the standard font
        logger.warning(
            "embedded font %s unusable; falling back to Courier", FONT_PATH, exc_info=True
        )
        return SimpleFontEngineFactory.default_factory()


@functools.cache
def _stamp_style() -> QRStampStyle:
    text_layout = SimpleBoxLayoutRule(
        x_align=AxisAlignment.ALIGN_MIN,
        y_align=AxisAlignment.ALIGN_MID,
        margins=Margins(left=6, right=2, top=2, bottom=2),
    )
    return VerificationQRStyle(
        stamp_text=STAMP_TEXT,
        text_box_style=TextBoxStyle(
            font=_font_factory(), font_size=_FONT_SIZE, leading=13, box_layout_rule=text_layout
        ),
        border_width=0,
        innsep=2,
    )


def warm_up() -> None:
    """Prepare the appearance font now (~1 s once per process), not in the first signature."""
    _stamp_style()


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(text, _WRAP_COLUMNS, break_on_hyphens=False)) or " "


async def _contents_size(identity: SigningIdentity, timestamper: TimeStamper) -> int:
    """The space to reserve in /Contents for the signature container, computed from what goes
    into it, with a margin.

    pyHanko would find it by building the whole container once more before signing (a dry run,
    time stamp included), which costs as much as the real one. The time stamp token is measured
    on the TSA's dummy token, which pyHanko caches per time stamper.
    """
    token = await timestamper.async_dummy_response(_MD_ALGORITHM)
    certificates = {der(c) for c in (identity.certificate, *identity.chain)}
    signer = identity.certificate
    # Issuer name and serial number, in the SignerIdentifier and in signingCertificateV2.
    issuer_serial = len(signer.issuer.public_bytes()) + (signer.serial_number.bit_length() + 8) // 8
    size = (
        sum(len(c) for c in certificates)
        + len(token.dump())
        + identity.private_key.key_size // 8
        + 2 * issuer_serial
        + _CMS_STRUCTURE_BYTES
    )
    # Tokens differ by a few bytes (nonce, serial number, fractions of a second); hex doubles.
    return 2 * (size + size // 16)


def _check_field(writer: IncrementalPdfFileWriter, field_name: str) -> None:
    found = list(enumerate_sig_fields(writer.prev, with_name=field_name))
    if not found:
        raise SignatureFieldNotFound(field_name)
    _, value, _ = found[0]
    if value is not None:
        raise SignatureFieldAlreadySigned(field_name)


async def sign_pdf(
    pdf: bytes,
    *,
    field_name: str,
    identity: SigningIdentity,
    appearance: SignatureAppearance,
    timestamper: TimeStamper,
    reason: str = DEFAULT_REASON,
    location: str | None = None,
    signing_time: datetime | None = None,
    certify: bool = False,
    bytes_reserved: int | None = None,
) -> bytes:
    """Sign ``pdf`` into its existing empty signature field ``field_name``; return the new PDF.

    The result is ``pdf`` followed by one incremental update. ``signing_time`` (default: now)
    is the claimed time shown in the appearance and written as the signature's ``/M``; the
    time that counts is the one in the time stamp token from ``timestamper``.

    ``certify=True`` makes this the document's certification signature (DocMDP, P=2): later
    signatures into the existing fields, DSS updates and document time stamps stay allowed;
    any other change shows up as a modification when the document is verified. Only the first
    signature of a document can certify it.

    ``bytes_reserved`` is the room for the signature container in the file (hex digits, even);
    by default it is computed from the certificates and the time stamper. Should the container
    not fit, the document is signed again with room measured by a dry run, so a wrong value
    costs time, never a broken file.

    Raises:
        InvalidPdf: ``pdf`` cannot be parsed.
        SignatureFieldNotFound: the document has no signature field named ``field_name``.
        SignatureFieldAlreadySigned: that field already holds a signature.
        SignatureCreationFailed: pyHanko failed to build the signature (time stamp request,
            appearance layout, a document policy that forbids further changes, ``certify``
            on a document that is already signed, ...).
        ValueError: ``signing_time`` is naive.
    """
    moment = signing_time or datetime.now(UTC)
    if _stamp_style.cache_info().currsize:
        style = _stamp_style()
    else:  # first signature in this process: cutting the font takes ~1 s, keep it off the loop
        style = await anyio.to_thread.run_sync(_stamp_style)
    return await sign_field(
        pdf,
        field_name=field_name,
        identity=identity,
        style=style,
        text_params={
            "url": appearance.verify_url,
            "nama": _wrap(appearance.name),
            "jabatan": _wrap(appearance.jabatan),
            "waktu": format_waktu(moment, appearance.zona),
        },
        name=appearance.name,
        timestamper=timestamper,
        reason=reason,
        location=location,
        signing_time=moment,
        certify=certify,
        bytes_reserved=bytes_reserved,
    )


async def sign_field(
    pdf: bytes,
    *,
    field_name: str,
    identity: SigningIdentity,
    style: BaseStampStyle,
    text_params: Mapping[str, str],
    name: str,
    timestamper: TimeStamper,
    reason: str,
    location: str | None = None,
    signing_time: datetime | None = None,
    certify: bool = False,
    bytes_reserved: int | None = None,
) -> bytes:
    """:func:`sign_pdf` with an appearance of the caller's: pyHanko's stamp ``style`` filled
    with ``text_params``; ``name`` is the signature's ``/Name``. For signatures that are not a
    signer's (an e-Meterai's stamp). Raises as :func:`sign_pdf`.
    """
    moment = signing_time or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("signing_time must be timezone-aware")
    if bytes_reserved is not None and (bytes_reserved <= 0 or bytes_reserved % 2):
        raise ValueError(f"bytes_reserved must be positive and even, not {bytes_reserved}")
    writer = _open(pdf, field_name)

    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=_MD_ALGORITHM,
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        name=name,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
    )
    pdf_signer = PdfSigner(
        meta, _RsaKeySigner(identity), timestamper=timestamper, stamp_style=style
    )
    params = dict(text_params)

    try:
        if bytes_reserved is None:
            bytes_reserved = await _contents_size(identity, timestamper)
        try:
            return await _sign_once(
                writer, pdf_signer, moment=moment, text_params=params, reserved=bytes_reserved
            )
        except _ContainerTooLarge as exc:
            logger.warning("%s; signing field %r again with measured room", exc, field_name)
        return await _sign_once(
            _open(pdf, field_name), pdf_signer, moment=moment, text_params=params
        )
    except (
        PyHankoSigningError,
        TimestampRequestError,
        LayoutError,
        misc.PdfError,
        _ContainerTooLarge,
    ) as exc:
        raise SignatureCreationFailed(f"could not sign field {field_name!r}: {exc}") from exc


class _ContainerTooLarge(Exception):
    """The signature container did not fit in the room reserved for it."""


def _open(pdf: bytes, field_name: str) -> IncrementalPdfFileWriter:
    try:
        reader = open_pdf(pdf)
        # The catalog, the fields and earlier signatures are read to check the field and the
        # certification, and to add this signature: read them fast.
        preload_signature_dictionaries(reader, pdf)
        writer = IncrementalWriter.from_reader(reader)
    except Exception as exc:  # pyHanko raises assorted errors for garbage
        raise InvalidPdf(f"cannot read the PDF to sign: {exc}") from exc
    try:
        _check_field(writer, field_name)
    except (SignatureFieldNotFound, SignatureFieldAlreadySigned):
        raise
    except Exception as exc:
        raise InvalidPdf(f"cannot read the signature fields: {exc}") from exc
    return writer


async def _sign_once(
    writer: IncrementalPdfFileWriter,
    pdf_signer: PdfSigner,
    *,
    moment: datetime,
    text_params: dict[str, str],
    reserved: int | None = None,
) -> bytes:
    """pyHanko's async_sign_pdf, step by step, so that /M is the signing time we show.

    ``reserved`` None lets pyHanko measure the container with a dry run. Raises
    _ContainerTooLarge when the container does not fit in ``reserved``.
    """
    session = pdf_signer.init_signing_session(writer, existing_fields_only=True)
    session.system_time = moment
    validation_info = await session.perform_presign_validation(writer)
    if reserved is None:
        reserved = await session.estimate_signature_container_size(validation_info)
    tbs = session.prepare_tbs_document(
        validation_info=validation_info,
        bytes_reserved=reserved,
        appearance_text_params=text_params,
    )
    prepared, output = tbs.digest_tbs_document()
    try:
        post_signing = await tbs.perform_signature(
            document_digest=prepared.document_digest,
            pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=moment),
        )
    except PyHankoSigningError as exc:
        # By now the document is laid out and hashed: what fails here is writing the container
        # into its room (pyHanko checks the size and refuses, it never truncates).
        raise _ContainerTooLarge(str(exc)) from exc
    await post_signing.post_signature_processing(output)
    result = misc.finalise_output(None, output)
    assert isinstance(result, io.BytesIO)
    return result.getvalue()
