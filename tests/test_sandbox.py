"""The sandbox's warm processes, with real processes of a test module (``tests.sandbox_jobs``):
reused across jobs, recycled after so many, replaced after a job over the time limit or the
memory limit, all gone when it stops; and slots handed out fairly between clients."""

from __future__ import annotations

from functools import partial

import anyio
import psutil
import pytest

from docgen.kit.sandbox import Sandbox, SandboxBusy, SandboxFailed, SandboxTimeout
from tests.processes import live_children

pytestmark = pytest.mark.anyio
JOBS = "tests.sandbox_jobs"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def pid(sandbox: Sandbox, client: str = "") -> int:
    return int(await sandbox.run(JOBS, ["pid"], b"", client=client))


def sandbox_processes() -> list[psutil.Process]:
    return live_children("docgen.kit.sandbox_worker")


async def test_processes_are_reused_then_recycled() -> None:
    async with Sandbox(1, 30, modules=[JOBS], recycle_after=3).running() as sandbox:
        first = [await pid(sandbox) for _ in range(3)]
        second = [await pid(sandbox) for _ in range(3)]
    assert len(set(first)) == 1 and len(set(second)) == 1
    assert first[0] != second[0]


async def test_processes_are_started_ahead_one_per_slot() -> None:
    async with Sandbox(2, 30, modules=[JOBS]).running() as sandbox:
        with anyio.fail_after(30):
            while len(sandbox.pids(JOBS)) < 2:
                await anyio.sleep(0.05)
        started = set(sandbox.pids(JOBS))
        assert {await pid(sandbox) for _ in range(4)} <= started


async def test_a_job_over_the_time_limit_is_killed_and_the_next_gets_a_fresh_process() -> None:
    async with Sandbox(1, 1, modules=[JOBS]).running() as sandbox:
        before = await pid(sandbox)
        with pytest.raises(SandboxTimeout):
            await sandbox.run(JOBS, ["sleep", "30"], b"")
        assert not psutil.pid_exists(before) or psutil.Process(before).status() == "zombie"
        after = await pid(sandbox)
    assert after != before


async def test_a_job_over_the_memory_limit_fails_and_the_sandbox_recovers() -> None:
    async with Sandbox(1, 30, modules=[JOBS], memory_limit=512 << 20).running() as sandbox:
        before = await pid(sandbox)
        with pytest.raises(SandboxFailed):
            await sandbox.run(JOBS, ["memory"], b"")
        with pytest.raises(SandboxFailed):
            await sandbox.run(JOBS, ["exit"], b"")
        after = await pid(sandbox)
        assert await sandbox.run(JOBS, ["sleep", "0"], b"still here") == b"still here"
    assert after != before


async def test_stopping_leaves_no_process() -> None:
    async with Sandbox(2, 30, modules=[JOBS]).running() as sandbox:
        await pid(sandbox)
        assert len(sandbox_processes()) == 2
        async with anyio.create_task_group() as tg:  # one stopped mid-job as well
            tg.start_soon(sandbox.run, JOBS, ["sleep", "30"], b"")
            await anyio.sleep(0.5)
            tg.cancel_scope.cancel()
    assert sandbox_processes() == []


async def test_a_waiting_client_is_served_before_another_clients_later_jobs() -> None:
    served: list[str] = []

    async def job(sandbox: Sandbox, client: str, name: str) -> None:
        served.append(
            name + (await sandbox.run(JOBS, ["sleep", "0.3"], b"", client=client)).decode()
        )

    async with Sandbox(1, 30, modules=[JOBS]).running() as sandbox:
        await pid(sandbox)  # warm
        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(job, sandbox, "A", f"A{i}")
                await anyio.sleep(0.05)
            tg.start_soon(job, sandbox, "B", "B0")
    # A0 was running and A1-A3 waiting when B came, A's turn next: B right after A1.
    assert served == ["A0", "A1", "B0", "A2", "A3"]


async def test_a_client_with_too_many_jobs_is_refused() -> None:
    sandbox = Sandbox(1, 30, modules=[JOBS])
    async with sandbox.running(), anyio.create_task_group() as tg:
        for _ in range(2):
            tg.start_soon(
                partial(sandbox.run, JOBS, ["sleep", "0.5"], b"", client="A", per_client=2)
            )
        await anyio.sleep(0.1)
        with pytest.raises(SandboxBusy):
            await sandbox.run(JOBS, ["pid"], b"", client="A", per_client=2)
        assert await sandbox.run(JOBS, ["sleep", "0"], b"3rd", client="A") == b"3rd"  # no cap
        assert await pid(sandbox, "B")  # another client waits its turn
