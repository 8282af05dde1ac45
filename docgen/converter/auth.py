"""The bearer token between the instances of a deployment and its converter nodes.

Derived from the server secret (``DOCGEN_SECRET_KEY``), which every instance and node of one
deployment is given and nobody else has, with HKDF bound to this one purpose: the token opens
a converter node and nothing else, and no other key of the deployment can be learnt from it.
"""

from __future__ import annotations

import base64
import hmac
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from docgen.kit.secret import load_pepper
from docgen.settings import Settings

__all__ = ["configured_secret", "node_token", "token_matches"]

_TOKEN_INFO: Final = b"docgen converter node bearer token v1"


def configured_secret(settings: Settings) -> bytes:
    """The deployment's server secret, as given to this process.

    Raises:
        ValueError: no secret is configured (a secret generated into this process's own data
            dir would be known to no other node), or its file cannot be read.
    """
    if not (settings.secret_key or settings.secret_key_file):
        raise ValueError(
            "node konverter dan instans yang memakainya memerlukan rahasia server deployment: "
            "setel DOCGEN_SECRET_KEY atau DOCGEN_SECRET_KEY_FILE, sama pada setiap instans dan "
            "node konverter"
        )
    return load_pepper(settings)


def node_token(secret: bytes) -> str:
    """The bearer token converter nodes accept, from the server secret."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TOKEN_INFO).derive(secret)
    return base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")


def token_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (compared in constant time)."""
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )
