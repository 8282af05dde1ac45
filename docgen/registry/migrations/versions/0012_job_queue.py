"""the job queue: procrastinate 3.10.0's tables, functions and triggers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

Its schema.sql runs as vendored (``../sql/procrastinate-3.10.0.sql``), inside Alembic's
transaction and under the lock that lets two ``migrate`` calls meet, rather than through
procrastinate's ``apply_schema_async`` (its own connection, outside both). So the chain does
not depend on the installed version: a later procrastinate gets a revision of its own that runs
the release's ``sql/migrations/*.sql`` files (tests/test_jobs_schema.py fails until it has one).
"""

from pathlib import Path

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SCHEMA = Path(__file__).resolve().parent.parent / "sql" / "procrastinate-3.10.0.sql"

# Everything the schema made is named procrastinate_* (its indexes and triggers go with their
# tables); plpgsql, which it only makes sure of, stays. The list is sorted, hence read whole,
# before the first drop.
_DROP = r"""
DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT 1 AS step, 'TABLE' AS kind, c.oid::regclass::text AS name FROM pg_class c
        WHERE c.relkind = 'r' AND c.relname LIKE 'procrastinate\_%'
          AND c.relnamespace = current_schema()::regnamespace
        UNION ALL
        SELECT 2, 'ROUTINE', p.oid::regprocedure::text FROM pg_proc p
        WHERE p.proname LIKE 'procrastinate\_%'
          AND p.pronamespace = current_schema()::regnamespace
        UNION ALL  -- enums, and composite types made by CREATE TYPE (not tables' row types)
        SELECT 3, 'TYPE', t.oid::regtype::text FROM pg_type t
        WHERE t.typname LIKE 'procrastinate\_%' AND t.typtype IN ('c', 'e')
          AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
          AND t.typnamespace = current_schema()::regnamespace
        ORDER BY step
    LOOP
        EXECUTE format('DROP %s IF EXISTS %s CASCADE', found.kind, found.name);
    END LOOP;
END;
$$;
"""


def _run(script: str) -> None:
    # No parameters: psycopg sends the text as it is, with the simple query protocol, which
    # takes many statements at once and leaves every '%' alone.
    op.get_bind().execution_options(no_parameters=True).exec_driver_sql(script)


def upgrade() -> None:
    _run(SCHEMA.read_text(encoding="utf-8"))


def downgrade() -> None:
    _run(_DROP)
