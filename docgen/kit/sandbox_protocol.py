"""The frames between the sandbox and its warm processes (stdin and stdout of each).

A job: ``>II`` (lengths of the arguments as JSON, of the data), the arguments, the data. An
answer: ``>BI`` (status, length), then that many bytes: READY once, when the process has
imported its module; then for each job OK and the module's answer, or FAILED and a short
reason (after which the process ends: it is not reused).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import BinaryIO

from anyio.streams.buffered import BufferedByteReceiveStream

__all__ = [
    "FAILED",
    "OK",
    "READY",
    "encode_job",
    "read_answer",
    "read_job",
    "write_answer",
]

READY, OK, FAILED = 0, 1, 2
_JOB = struct.Struct(">II")
_ANSWER = struct.Struct(">BI")


def encode_job(args: Sequence[str], data: bytes) -> bytes:
    head = json.dumps(list(args)).encode()
    return _JOB.pack(len(head), len(data)) + head + data


async def read_answer(stream: BufferedByteReceiveStream) -> tuple[int, bytes]:
    """(status, payload). Raises anyio.IncompleteRead when the process ended mid-frame."""
    status, length = _ANSWER.unpack(await stream.receive_exactly(_ANSWER.size))
    return status, await stream.receive_exactly(length)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if len(data) == size else None


def read_job(stream: BinaryIO) -> tuple[list[str], bytes] | None:
    """The next job; None when the sandbox closed the stream (time to end)."""
    head = _read_exactly(stream, _JOB.size)
    if head is None:
        return None
    args_length, data_length = _JOB.unpack(head)
    args = _read_exactly(stream, args_length)
    data = _read_exactly(stream, data_length)
    if args is None or data is None:
        return None
    return [str(a) for a in json.loads(args)], data


def write_answer(stream: BinaryIO, status: int, payload: bytes = b"") -> None:
    stream.write(_ANSWER.pack(status, len(payload)) + payload)
    stream.flush()
