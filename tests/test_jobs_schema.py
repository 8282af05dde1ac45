"""The job queue's schema in the registry: procrastinate's own schema.sql, vendored and run by an
Alembic revision, so ``docgen migrate`` makes it with everything else."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from procrastinate.schema import SchemaManager

from docgen.jobs import REMOVE_OLD, job_app
from docgen.registry.db import MIGRATIONS, migrate
from docgen.settings import Settings
from tests.postgres import database_url, downgrade, registry

pytestmark = pytest.mark.anyio

VENDORED = MIGRATIONS / "sql" / "procrastinate-3.10.0.sql"
END_OF_NOTE = "-- ---- end of docgen's note; procrastinate's schema.sql follows ----\n"


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def queue_objects(url: str) -> list[str]:
    """Tables, routines and types named procrastinate_* in the registry."""
    with registry(url) as connection:
        rows = connection.execute(
            "SELECT relname FROM pg_class WHERE relname LIKE 'procrastinate\\_%' "
            "UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'procrastinate\\_%' "
            "UNION ALL SELECT typname FROM pg_type WHERE typname LIKE 'procrastinate\\_%'"
        ).fetchall()
    return sorted(str(row[0]) for row in rows)


def test_the_vendored_schema_is_the_installed_procrastinates() -> None:
    note, found, schema = VENDORED.read_text(encoding="utf-8").partition(END_OF_NOTE)
    assert found and "MIT License" in note and "Permission is hereby granted" in note
    installed = version("procrastinate")
    assert schema == SchemaManager.get_schema(), (
        f"procrastinate {installed} is installed, and its schema.sql is not the 3.10.0 one that "
        "revision 0012 made: add an Alembic revision that runs the release's "
        "sql/migrations/*.sql in order (as 0012 runs its vendored schema), vendor the new "
        "schema.sql beside it, and point this test at it"
    )


async def test_after_migrate_a_procrastinate_app_finds_its_queue(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    migrate(url)
    app = job_app(url, Settings())
    async with app.open_async():
        assert await app.check_connection_async()
        # The schema's functions and triggers work, not only its tables exist.
        job_id = await app.configure_task(REMOVE_OLD).defer_async(timestamp=0)
        (job,) = await app.job_manager.list_jobs_async(id=job_id)
    assert (job.task_name, job.status) == (REMOVE_OLD, "todo")


def test_downgrade_drops_the_queue_and_upgrade_makes_it_again(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    migrate(url)
    made = queue_objects(url)
    assert {"procrastinate_jobs", "procrastinate_fetch_job_v2", "procrastinate_job_status"} <= set(
        made
    )

    downgrade(url, "0011")
    assert queue_objects(url) == []
    migrate(url)
    assert queue_objects(url) == made
