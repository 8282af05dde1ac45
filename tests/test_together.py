"""docgen.kit.together.side_by_side: two awaitables at once, their errors raised as they are."""

from __future__ import annotations

import time

import anyio
import pytest

from docgen.errors import UploadInvalid
from docgen.kit.together import side_by_side

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def after(seconds: float, value: str) -> str:
    await anyio.sleep(seconds)
    return value


async def fails(seconds: float, error: Exception) -> str:
    await anyio.sleep(seconds)
    raise error


async def test_both_run_at_once() -> None:
    start = time.monotonic()
    found = await side_by_side(lambda: after(0.3, "a"), lambda: after(0.3, "b"))
    assert found == ("a", "b")
    assert time.monotonic() - start < 0.5


async def test_an_error_is_raised_as_it_is_after_the_other_ended() -> None:
    ended: list[str] = []

    async def other() -> str:
        await anyio.sleep(0.2)
        ended.append("other")
        return "b"

    with pytest.raises(UploadInvalid, match="rusak"):
        await side_by_side(lambda: fails(0.0, UploadInvalid("rusak")), other)
    assert ended == ["other"]  # not cancelled midway (a query of the caller's session)


async def test_the_first_error_wins() -> None:
    with pytest.raises(UploadInvalid):
        await side_by_side(
            lambda: fails(0.1, UploadInvalid("pertama")), lambda: fails(0.0, KeyError("kedua"))
        )
    with pytest.raises(KeyError):
        await side_by_side(lambda: after(0.0, "a"), lambda: fails(0.0, KeyError("kedua")))
