"""The object storage the settings name, as an S3 client; or the embedded S3 server of the data
dir, started with the bucket ready."""

from __future__ import annotations

from docgen.settings import Settings
from storage import EmbeddedS3Server, S3ObjectStore

__all__ = ["configured_store", "start_embedded", "store_at"]


def configured_store(settings: Settings) -> S3ObjectStore:
    """The object storage the settings name (``DOCGEN_S3_*``), not yet checked.

    Raises:
        ValueError: no endpoint, or no credentials for it.
    """
    if not settings.s3_endpoint:
        raise ValueError("DOCGEN_S3_ENDPOINT belum disetel")
    if not (settings.s3_access_key and settings.s3_secret_key):
        raise ValueError("DOCGEN_S3_ACCESS_KEY dan DOCGEN_S3_SECRET_KEY harus disetel")
    return store_at(settings, settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key)


def store_at(settings: Settings, endpoint: str, access: str, secret: str) -> S3ObjectStore:
    """The settings' bucket, TLS, region and retention, at ``endpoint`` with these keys."""
    return S3ObjectStore(
        endpoint,
        access,
        secret,
        settings.s3_bucket,
        secure=settings.s3_secure,
        region=settings.s3_region,
        retention_days=settings.s3_retention_days,
    )


def start_embedded(settings: Settings) -> tuple[EmbeddedS3Server, S3ObjectStore]:
    """The data dir's embedded S3 server, started, with the settings' bucket made (versioning,
    object lock) and given its first volume before the first upload would wait for it. The
    caller stops the server.

    Raises StorageError (the server does not start, or refuses the bucket).
    """
    server = EmbeddedS3Server(settings.data_dir / "s3")
    server.start()
    try:
        store = store_at(settings, server.endpoint, server.access_key, server.secret_key)
        store.ensure_bucket()
        server.allocate_volume(settings.s3_bucket)
    except BaseException:
        server.stop()
        raise
    return server, store
