"""Converter nodes: ``docgen converter`` runs LibreOffice for a deployment behind a small HTTP
API (:mod:`.node`), and ``DOCGEN_CONVERTER_URLS`` points an instance at a farm of them
(:mod:`.remote`). Documents travel as bytes: a node and its callers share no paths."""

from docgen.converter.auth import node_token
from docgen.converter.remote import RemoteConverter

__all__ = ["RemoteConverter", "node_token"]
