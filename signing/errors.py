"""Errors raised by the signing library.

Every failure a caller can provoke is a :class:`SigningError`; the service maps each subclass to
an HTTP status by name. Errors carry the data a caller needs to explain them (field names,
markers) as attributes, not only in the message.
"""


class SigningError(Exception):
    """Base class for every signing failure."""


class InvalidPin(SigningError):
    """The PIN does not unlock the signer's private key."""


class InvalidPdf(SigningError):
    """The bytes are not a PDF this library can read."""


class AnchorNotFound(SigningError):
    """A signature anchor marker does not appear in the converted PDF."""

    def __init__(self, marker: str) -> None:
        super().__init__(f"signature anchor {marker!r} not found in the document")
        self.marker = marker


class WrongSecret(SigningError):
    """The server secret does not unseal a key sealed under it (another secret, or the blob was
    tampered with: AES-GCM cannot tell these apart)."""


class KeyBlobError(SigningError):
    """A sealed private key blob is malformed or of an unknown version."""


class CertificateAuthorityError(SigningError):
    """The CA directory is incomplete or holds files that do not belong together."""


class SignatureFieldNotFound(SigningError):
    """The PDF has no signature field with the requested name."""

    def __init__(self, field_name: str) -> None:
        super().__init__(f"signature field {field_name!r} not found in the document")
        self.field_name = field_name


class SignatureFieldAlreadySigned(SigningError):
    """The requested signature field already holds a signature."""

    def __init__(self, field_name: str) -> None:
        super().__init__(f"signature field {field_name!r} is already signed")
        self.field_name = field_name


class SignatureCreationFailed(SigningError):
    """pyHanko could not produce the signature (appearance, timestamp, CMS, writing)."""


class LongTermValidationFailed(SigningError):
    """The validation data for a long-term (B-LTA) signature cannot be assembled: a certificate
    that does not chain to a trust root, or no CRL for one of its certificates."""


class EMeteraiFailed(SigningError):
    """The e-Meterai provider could not affix the e-Meterai (unreachable, refused, quota
    spent...)."""
