"""Check one uploaded template DOCX in a separate, bounded process (a warm one of the sandbox).

:func:`check` takes as its data one line with the manifest as JSON (``null`` when it did not
validate), then the DOCX bytes; it answers the problems found as a JSON list of ``{"where",
"message"}``. The sandbox sets the time limit (docxtpl's clean-up regexes can take quadratic
time on crafted input) and the memory limit.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from docgen.templating.checks import docx_problems
from docgen.templating.manifest import TemplateManifest


def check(args: list[str], data: bytes) -> bytes:
    """The problems of the DOCX in ``data`` (after its manifest line) as JSON."""
    head, _, docx_bytes = data.partition(b"\n")
    raw = json.loads(head)
    manifest = TemplateManifest.model_validate(raw) if raw is not None else None
    problems = docx_problems(docx_bytes, manifest)
    return json.dumps([asdict(p) for p in problems], ensure_ascii=False).encode()
