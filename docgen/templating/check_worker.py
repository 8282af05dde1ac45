"""Check one uploaded template DOCX in a separate, bounded process.

Reads on stdin one line with the manifest as JSON (``null`` when it did not validate), then the
DOCX bytes; writes the problems found as a JSON list of ``{"where", "message"}`` on stdout. The
parent sets the time limit (docxtpl's clean-up regexes can take quadratic time on crafted
input); the memory limit is set here before parsing anything.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from docgen.kit.sandbox import limit_memory


def main() -> int:
    limit_memory()
    from docgen.templating.checks import docx_problems
    from docgen.templating.manifest import TemplateManifest

    head, _, docx_bytes = sys.stdin.buffer.read().partition(b"\n")
    raw = json.loads(head)
    manifest = TemplateManifest.model_validate(raw) if raw is not None else None
    problems = docx_problems(docx_bytes, manifest)
    json.dump([asdict(p) for p in problems], sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
