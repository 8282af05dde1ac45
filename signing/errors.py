"""Errors raised by the signing library."""


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
