"""Object storage for document revisions: an S3 store and an embedded S3 server."""

from storage.api import ObjectStore, StoredObject
from storage.cache import CachedObjectStore
from storage.embedded import EmbeddedS3Server
from storage.errors import (
    BucketMisconfigured,
    ObjectCorrupted,
    ObjectExists,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from storage.pack import PACK_TYPE, Pack, pack
from storage.s3 import S3ObjectStore

__all__ = [
    "PACK_TYPE",
    "BucketMisconfigured",
    "CachedObjectStore",
    "EmbeddedS3Server",
    "ObjectCorrupted",
    "ObjectExists",
    "ObjectNotFound",
    "ObjectStore",
    "Pack",
    "S3ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "pack",
]
