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
