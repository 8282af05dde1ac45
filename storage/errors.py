"""Errors raised by the object storage library."""


class StorageError(Exception):
    """Base class for every object storage failure."""


class StorageUnavailable(StorageError):
    """The S3 endpoint cannot be reached or refused the request."""


class ObjectExists(StorageError):
    """A key was written twice: stored revisions are never overwritten."""

    def __init__(self, key: str) -> None:
        super().__init__(f"object {key!r} already exists and cannot be overwritten")
        self.key = key


class ObjectNotFound(StorageError):
    """No object (or no such version of it) is stored under the key."""

    def __init__(self, key: str, version_id: str | None = None) -> None:
        what = f"{key!r}" if version_id is None else f"{key!r} version {version_id!r}"
        super().__init__(f"object {what} not found")
        self.key = key
        self.version_id = version_id


class ObjectCorrupted(StorageError):
    """The bytes read back do not hash to the SHA-256 recorded when they were stored."""

    def __init__(self, key: str, expected_sha256: str, actual_sha256: str) -> None:
        super().__init__(
            f"object {key!r} is corrupted: stored with sha256 {expected_sha256}, "
            f"read back as {actual_sha256}"
        )
        self.key = key
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256


class BucketMisconfigured(StorageError):
    """The bucket exists but lacks versioning or object lock, so revisions are not protected."""

    def __init__(self, bucket: str, problem: str) -> None:
        super().__init__(f"bucket {bucket!r} {problem}")
        self.bucket = bucket
        self.problem = problem
