"""Validate one uploaded PDF in a separate, bounded process (a warm one of the sandbox).

:func:`check` takes the trust root PEM path and the current CRL (DER) path as its arguments and
the PDF as its data; it answers the report as JSON. The sandbox sets the time and memory
limits. The file is read once: the reader that :func:`refusal` looks at is the one validated.

The trust files are read and parsed at every job (~0.09 ms, against ~90 ms for the whole check):
a new CRL counts from the next job on, with nothing kept between jobs to go stale.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

import signing.fast
from signing.errors import InvalidPdf
from signing.validate.validation import read_pdf, validate_pdf

# Form fields in the AcroForm, counted before any signature is validated: each signature field
# costs pyHanko a walk of the document's revisions, so thousands of empty ones (a 300 KB file)
# held a process for the whole time limit. Our documents have 1-3 signature fields (a berita
# acara for 40 people still has 3) and no other fields: 100 is far above any of them.
MAX_FORM_FIELDS = 100
# Revisions (incremental updates): ours have about 5 (the prepared PDF, one per signature, the
# DSS and the document timestamp).
MAX_REVISIONS = 100


def form_fields(reader: PdfFileReader, limit: int) -> int:
    """The fields of the AcroForm (with their kids), counted up to ``limit`` + 1."""
    form = reader.root.get("/AcroForm")
    if form is None:
        return 0
    form = form.get_object()
    pending = list(form.get("/Fields", generic.ArrayObject()))
    seen: set[int] = set()
    count = 0
    while pending and count <= limit:
        ref = pending.pop()
        key = ref.idnum if isinstance(ref, generic.IndirectObject) else id(ref)
        if key in seen:
            continue  # a loop of /Kids
        seen.add(key)
        count += 1
        field = ref.get_object()
        if isinstance(field, generic.DictionaryObject):
            pending.extend(field.get("/Kids", generic.ArrayObject()))
    return count


def refusal(reader: PdfFileReader) -> str | None:
    """Why the PDF is refused before validation (in Bahasa Indonesia), if it is.

    Raises InvalidPdf: its form cannot be read.
    """
    try:
        revisions = reader.xrefs.total_revisions
        fields = 0 if reader.encrypted else form_fields(reader, MAX_FORM_FIELDS)
    except RecursionError as exc:
        raise InvalidPdf("the PDF structure is nested too deeply") from exc
    except Exception as exc:  # pyHanko raises many types for damaged files
        raise InvalidPdf(f"not a readable PDF: {exc}") from exc
    if revisions > MAX_REVISIONS:
        return f"Berkas PDF memuat lebih dari {MAX_REVISIONS} revisi; tidak kami periksa"
    if fields > MAX_FORM_FIELDS:
        return f"Berkas PDF memuat lebih dari {MAX_FORM_FIELDS} kolom formulir; tidak kami periksa"
    return None


def check(args: list[str], data: bytes) -> bytes:
    """The report on the PDF ``data`` as JSON, against the trust roots at ``args[0]`` and the
    CRL at ``args[1]``: ``{"refused": text}`` or ``{"invalid_pdf": text}`` when it is not
    validated. ``args[2]``, if given, is ``"fast"`` or ``"library"``: the service's choice of
    paths (:mod:`signing.fast`), taken for this job."""
    roots_path, crl_path, *paths = args
    signing.fast.use(paths != ["library"])
    with open(roots_path, "rb") as fh:
        roots = x509.load_pem_x509_certificates(fh.read())
    with open(crl_path, "rb") as fh:
        crls = [x509.load_der_x509_crl(fh.read())]
    try:
        reader = read_pdf(data)
        refused = refusal(reader)
        if refused is not None:
            return json.dumps({"refused": refused}).encode()
        report = validate_pdf(data, roots, crls, reader=reader)
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
