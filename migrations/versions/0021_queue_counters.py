"""reviewer queue counts per department and state, maintained by triggers on applications

The queue's tabs showed a count of the department's open cases per state on every request,
read from an index: at a million cases a large department holds tens of thousands of open
cases, and each page counted them all again. ``queue_counts`` keeps those numbers; triggers
on ``applications`` keep them right for every change, also bulk UPDATEs and raw inserts:

- SQLite (one writer at a time): one row per (department, state), updated in place by row
  triggers;
- PostgreSQL: a change appends a row of +1/-1 instead (an insert never waits for another
  transaction, where a shared counter row would make every case change of a department wait
  for the others' commits, or deadlock two that change cases in opposite directions); inserts
  and deletes are counted once per statement (transition tables: a bulk load of a million
  cases adds a handful of rows), state changes per row. The queue sums a department's rows;
  `flask jobs run` folds them back into one per state (services/review.py).

The counts start from the cases as they are. SQLite drops a table's triggers with the table:
a later migration that rebuilds ``applications`` (op.batch_alter_table) must call
``create_triggers`` again.

Revision ID: 0021_queue_counters
Revises: 0020_background_tasks
Create Date: 2026-12-02 08:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0021_queue_counters"
down_revision = "0020_background_tasks"
branch_labels = None
depends_on = None

# services.case_states.STAFF_OPEN_STATES at this revision (as 0018's partial indexes)
OPEN_STATES = (
    "'submitted', 'correction_required', 'accepted', 'accepted_pending_materials', "
    "'accepted_on_commitment', 'in_review', 'suspended', 'approved', 'certifying', "
    "'awaiting_pickup', 'awaiting_post', 'mailed'"
)


def _open(row: str) -> str:
    return f"{row}.department_id IS NOT NULL AND {row}.status IN ({OPEN_STATES})"


SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER queue_counts_insert AFTER INSERT ON applications
    WHEN {_open("NEW")}
    BEGIN
        INSERT INTO queue_counts (department_id, status, n)
        SELECT NEW.department_id, NEW.status, 0
        WHERE NOT EXISTS (SELECT 1 FROM queue_counts
                          WHERE department_id = NEW.department_id AND status = NEW.status);
        UPDATE queue_counts SET n = n + 1
        WHERE department_id = NEW.department_id AND status = NEW.status;
    END
    """,
    f"""
    CREATE TRIGGER queue_counts_delete AFTER DELETE ON applications
    WHEN {_open("OLD")}
    BEGIN
        UPDATE queue_counts SET n = n - 1
        WHERE department_id = OLD.department_id AND status = OLD.status;
    END
    """,
    f"""
    CREATE TRIGGER queue_counts_update AFTER UPDATE OF status, department_id ON applications
    WHEN OLD.status IS NOT NEW.status OR OLD.department_id IS NOT NEW.department_id
    BEGIN
        UPDATE queue_counts SET n = n - 1
        WHERE {_open("OLD")}
          AND department_id = OLD.department_id AND status = OLD.status;
        INSERT INTO queue_counts (department_id, status, n)
        SELECT NEW.department_id, NEW.status, 0
        WHERE {_open("NEW")}
          AND NOT EXISTS (SELECT 1 FROM queue_counts
                          WHERE department_id = NEW.department_id AND status = NEW.status);
        UPDATE queue_counts SET n = n + 1
        WHERE {_open("NEW")}
          AND department_id = NEW.department_id AND status = NEW.status;
    END
    """,
)

POSTGRESQL_TRIGGERS = (
    f"""
    CREATE FUNCTION queue_counts_statement() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO queue_counts (department_id, status, n)
            SELECT department_id, status, count(*) FROM queue_new_rows AS a
            WHERE {_open("a")} GROUP BY department_id, status;
        ELSE
            INSERT INTO queue_counts (department_id, status, n)
            SELECT department_id, status, -count(*) FROM queue_old_rows AS a
            WHERE {_open("a")} GROUP BY department_id, status;
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION queue_counts_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.department_id IS NOT NULL AND OLD.status IN ({OPEN_STATES}) THEN
            INSERT INTO queue_counts (department_id, status, n)
            VALUES (OLD.department_id, OLD.status, -1);
        END IF;
        IF NEW.department_id IS NOT NULL AND NEW.status IN ({OPEN_STATES}) THEN
            INSERT INTO queue_counts (department_id, status, n)
            VALUES (NEW.department_id, NEW.status, 1);
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER queue_counts_insert AFTER INSERT ON applications
    REFERENCING NEW TABLE AS queue_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_statement()
    """,
    """
    CREATE TRIGGER queue_counts_delete AFTER DELETE ON applications
    REFERENCING OLD TABLE AS queue_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_statement()
    """,
    """
    CREATE TRIGGER queue_counts_update AFTER UPDATE OF status, department_id ON applications
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.department_id IS DISTINCT FROM NEW.department_id)
    EXECUTE FUNCTION queue_counts_row()
    """,
)


def create_triggers() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def drop_triggers() -> None:
    for name in ("queue_counts_update", "queue_counts_delete", "queue_counts_insert"):
        op.execute(
            f"DROP TRIGGER IF EXISTS {name} ON applications"
            if op.get_bind().dialect.name == "postgresql"
            else f"DROP TRIGGER IF EXISTS {name}"
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS queue_counts_row()")
        op.execute("DROP FUNCTION IF EXISTS queue_counts_statement()")


def upgrade():
    op.create_table(
        "queue_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_counts")),
    )
    op.create_index("ix_queue_counts_department", "queue_counts", ["department_id", "status", "n"])
    # the triggers first, then the counts, in one transaction: on PostgreSQL creating a
    # trigger holds off writers to applications until the commit, SQLite has one writer
    create_triggers()
    op.execute(
        "INSERT INTO queue_counts (department_id, status, n)"
        " SELECT department_id, status, count(*) FROM applications"
        f" WHERE {_open('applications')} GROUP BY department_id, status"
    )


def downgrade():
    drop_triggers()
    op.drop_index("ix_queue_counts_department", table_name="queue_counts")
    op.drop_table("queue_counts")
