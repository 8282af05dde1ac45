"""The server secret (``DOCGEN_SECRET_KEY``): mixed into key sealing, and the root of the
tokens between the processes of one deployment."""

from __future__ import annotations

import secrets

from docgen.settings import Settings

__all__ = ["load_pepper"]


def load_pepper(settings: Settings) -> bytes:
    """The server secret: from settings, else from the secret file, else a random one kept in
    the data dir.

    Raises:
        ValueError: the secret file cannot be read, or is empty.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    if settings.secret_key_file is not None:
        try:
            secret = settings.secret_key_file.read_bytes()
        except OSError as exc:
            raise ValueError(
                f"berkas rahasia server {settings.secret_key_file} tidak terbaca: {exc.strerror}"
            ) from exc
        if not secret.strip():
            raise ValueError(f"berkas rahasia server {settings.secret_key_file} kosong")
        return secret
    path = settings.data_dir / "secret.key"
    if not path.exists():
        path.write_bytes(secrets.token_bytes(32))
        path.chmod(0o600)
    return path.read_bytes()
