"""Validate one uploaded PDF in a separate, bounded process (a warm one of the sandbox).

:func:`check` takes the trust root PEM path and the current CRL (DER) path as its arguments and
the PDF as its data; it answers the report as JSON. The sandbox sets the time and memory
limits.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from cryptography import x509

from signing.errors import InvalidPdf
from signing.validate.validation import validate_pdf


def check(args: list[str], data: bytes) -> bytes:
    """The report on the PDF ``data`` as JSON, against the trust roots at ``args[0]`` and the
    CRL at ``args[1]``; ``{"invalid_pdf": text}`` when it is not a readable PDF."""
    roots_path, crl_path = args
    with open(roots_path, "rb") as fh:
        roots = x509.load_pem_x509_certificates(fh.read())
    with open(crl_path, "rb") as fh:
        crls = [x509.load_der_x509_crl(fh.read())]
    try:
        report = validate_pdf(data, roots, crls)
    except InvalidPdf as exc:
        return json.dumps({"invalid_pdf": str(exc)}).encode()
    return json.dumps(
        {
            "valid": report.valid,
            "level": report.level,
            "document_timestamp": report.document_timestamp,
            "signatures": [asdict(s) for s in report.signatures],
        },
        default=lambda o: o.isoformat() if isinstance(o, datetime) else str(o),
    ).encode()
