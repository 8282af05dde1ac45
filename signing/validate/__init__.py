"""Validating a signed PDF: each signature's integrity, trust chain, time stamp and the changes
made after it; the document time stamp of a B-LTA file."""

from signing.validate.validation import SignatureReport, ValidationReport, validate_pdf

__all__ = ["SignatureReport", "ValidationReport", "validate_pdf"]
