"""PAdES signatures into prepared fields, one incremental update each, and the B-LTA revision
(validation data and a document time stamp) after the last one."""

from signing.pades.long_term import add_long_term_validation
from signing.pades.sign import SignatureAppearance, SigningIdentity, sign_pdf

__all__ = ["SignatureAppearance", "SigningIdentity", "add_long_term_validation", "sign_pdf"]
