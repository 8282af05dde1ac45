"""Each render is bounded in CPU time and memory in its worker process: a template is code an
admin uploaded, and a nested loop or a string of gigabytes is valid Jinja."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Sequence
from pathlib import Path

import anyio
import httpx
import pytest

from docgen.pipeline.bounds import RenderBounds, bounded
from docgen.pipeline.workers import Failed, WorkerPool, render_rows
from docgen.templating.catalogue import load_template
from docgen.templating.kop import Kop
from docgen.templating.manifest import Template
from docgen.templating.validation import validate_data
from tests.conftest import REPO, People, SignerAccount, pakta_data
from tests.test_errors import own_nip
from tests.test_template_upload import (
    OLD_WORDING,
    create,
    manifest_text,
    new_id,
    pakta_docx,
    upload,
)
from tests.test_workers import BOUNDS, shout_or_die, worker_pids

TIGHT = RenderBounds(seconds=1, memory=64 << 20, grace=0.5)
NESTED_LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def pakta_saying(jinja: str) -> Template:
    """The pakta template with ``jinja`` after its opening words."""
    pakta = load_template(REPO / "templates" / "pakta-integritas")
    docx_bytes = pakta_docx((OLD_WORDING, OLD_WORDING + jinja))
    return dataclasses.replace(pakta, docx_bytes=docx_bytes)


def render_one(pool: WorkerPool, template: Template) -> Awaitable[list[bytes | Failed]]:
    clean = validate_data(template.manifest, pakta_data())
    return pool.map(render_rows, [(clean, "1/2024")], template, Kop())


@pytest.mark.anyio
async def test_a_render_over_its_time_or_memory_fails_alone_and_the_worker_goes_on(
    tmp_path: Path,
) -> None:
    pool = WorkerPool(1, tmp_path / "ca", TIGHT)
    try:
        await pool.start()
        started = worker_pids()
        [looping] = await render_one(pool, pakta_saying(NESTED_LOOP))  # 10^10 steps
        assert isinstance(looping, Failed)
        assert (looping.name, looping.status_code) == ("TemplateInvalid", 422)
        assert "melebihi batas waktu render (1 detik CPU)" in looping.message
        [huge] = await render_one(pool, pakta_saying('{{ "x" * 200000000 }}'))  # 200 MB
        assert isinstance(huge, Failed) and huge.status_code == 422
        assert "melebihi batas memori render (64 MiB)" in huge.message
        # The same process renders the next document, with its whole memory back.
        [fine] = await render_one(pool, pakta_saying("{{ nama }}"))
        assert isinstance(fine, bytes) and fine.startswith(b"PK")
        assert worker_pids() == started
    finally:
        pool.stop()


@pytest.mark.anyio
async def test_a_huge_power_is_refused_before_it_is_computed(tmp_path: Path) -> None:
    # 2 ** 10 ** 9 is one C call: no time limit could stop it short of ending the process.
    pool = WorkerPool(1, tmp_path / "ca", BOUNDS)
    try:
        [power] = await render_one(pool, pakta_saying("{{ 2 ** 1000000000 }}"))
        assert isinstance(power, Failed) and power.status_code == 422
        assert "pangkat lebih dari 100 tidak diizinkan" in power.message
        [small] = await render_one(pool, pakta_saying("{{ 2 ** 10 }}"))
        assert isinstance(small, bytes)
    finally:
        pool.stop()


# The kernel's end comes at the limit plus the grace: short ones, as the call is run twice (in a
# fresh pool the second time) and spends both whole.
STUCK = RenderBounds(seconds=0.2, memory=64 << 20, grace=0.2)


def stuck_in_one_c_call(items: Sequence[str]) -> list[str]:
    """Runs in a worker: one C call that never reaches a bytecode boundary, within bounds."""
    with bounded(STUCK):
        sum(range(10**15))
    return list(items)


@pytest.mark.anyio
async def test_the_kernel_ends_a_render_stuck_in_one_c_call(tmp_path: Path) -> None:
    pool = WorkerPool(1, tmp_path / "ca", TIGHT)
    try:
        with anyio.fail_after(120):  # without the kernel's end, the sum would run for days
            [stuck] = await pool.map(stuck_in_one_c_call, ["x"])
        assert isinstance(stuck, Failed) and "berhenti" in stuck.message
        assert await pool.map(shout_or_die, ["a"]) == ["A"]
    finally:
        pool.stop()


def test_a_template_that_renders_for_ever_gets_422_and_the_service_goes_on(
    people: People, client: httpx.Client
) -> None:
    # The services of the tests bound a render to 2 s of CPU (TEST_DEFAULTS).
    admin = people.admin.client
    signer: SignerAccount = people.signer(own_nip())
    template_id = new_id()
    docx_bytes = pakta_docx((OLD_WORDING, OLD_WORDING + NESTED_LOOP))
    assert upload(admin, manifest_text(template_id), docx_bytes).status_code == 201
    looping = client.post(
        "/api/v1/documents", json={"template": template_id, "data": pakta_data(nip=signer.nip)}
    )
    assert looping.status_code == 422, looping.text
    assert looping.json()["error"] == "TemplateInvalid"
    assert "melebihi batas waktu render (2 detik CPU)" in looping.json()["detail"]
    assert create(client, "pakta-integritas", signer)["status"]
