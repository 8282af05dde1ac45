"""Validate one uploaded PDF in a separate, bounded process.

Reads the PDF on stdin, the trust root PEM path as argv[1] and the current CRL (DER) path as
argv[2]; writes the report as JSON on stdout. The parent sets the time limit; the memory limit
is set here before parsing anything.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime

from cryptography import x509

from docgen.kit.sandbox import limit_memory


def main() -> int:
    limit_memory()
    from signing.errors import InvalidPdf
    from signing.validate.validation import validate_pdf

    with open(sys.argv[1], "rb") as fh:
        roots = x509.load_pem_x509_certificates(fh.read())
    with open(sys.argv[2], "rb") as fh:
        crls = [x509.load_der_x509_crl(fh.read())]
    pdf = sys.stdin.buffer.read()
    try:
        report = validate_pdf(pdf, roots, crls)
    except InvalidPdf as exc:
        json.dump({"invalid_pdf": str(exc)}, sys.stdout)
        return 0
    json.dump(
        {
            "valid": report.valid,
            "level": report.level,
            "document_timestamp": report.document_timestamp,
            "signatures": [asdict(s) for s in report.signatures],
        },
        sys.stdout,
        default=lambda o: o.isoformat() if isinstance(o, datetime) else str(o),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
