"""The signing library: PKI, preparing PDFs for signatures, PAdES signing, validation.

    pki/       the internal CA and time stamping authority, signer keys sealed under a PIN
    prepare/   QR code, verification footer and empty signature fields at the template's anchors
    pades/     PAdES signatures (one per signer, incremental), then B-LTA
    emeterai/  the e-Meterai provider interface, and a local provider that says it is not Peruri
    validate/  validating a signed PDF: integrity, trust chain, time stamps, changes after signing
    fast/      hand-written code that does a library's job faster, each with its library path
               beside it behind one switch (see signing.fast)

A library: it never imports the service (``docgen``). Its errors are in ``signing.errors``.
"""
