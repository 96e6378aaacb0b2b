"""page generations: a counter per scope of personal pages, bumped by triggers on every write

A cached personal page (我的办件, a case, 我的材料, the reviewer queue, the counter workstation)
is keyed by the generations of the scopes whose data it shows; it is never served stale only
if every write that changes what it shows bumps its scope's generation, also a bulk UPDATE,
a job or a raw insert. So the database keeps them: a scope (``'c:<citizen id>'``,
``'u:<user id>'``, ``'d:<department id>'``, ``'g'`` the city's calendar) has rows in
``page_generations`` whose SUM is its generation, and triggers on the tables those pages read
add 1 to the scopes of the old and the new row (services/page_scopes.py, WATCHED, says which
table bumps which kinds). No row is made up front: a scope without rows is generation 0.
NULL scopes (a case without an agent) are skipped.

- SQLite (one writer at a time): row triggers; a scope keeps one row, updated in place.
- PostgreSQL: writers run concurrently. A shared counter row would be locked from a write to
  its transaction's commit: every writer of a department's cases would wait for the others,
  and two transactions that change cases of the same two scopes in opposite order would
  deadlock (PostgreSQL aborts one). So a write APPENDS a row (scope, 1) instead, as 0021's
  queue counts do: an insert waits for nobody, and the sum grows with every commit whatever
  order the transactions commit in. Each statement appends each of its scopes once
  (statement triggers over the transition tables, one trigger per event because a trigger
  with transition tables has one; a bulk UPDATE of 10,000 cases is one row per scope, not
  10,000). `flask jobs run` folds a scope's rows into one (services/page_scopes.py,
  ``compact_page_generations``): the sum, and so every key, stays what it was.

SQLite drops a table's triggers with the table: a later migration that rebuilds a watched
table (op.batch_alter_table with a change SQLite cannot ALTER) must call ``create_triggers``
for it again. And SQLite refuses to rename a table while a trigger reads a table that does
not exist: rebuilding ``applications`` (create a copy, drop, rename the copy) fails with
"error in trigger …: no such table: main.applications" unless the triggers that read it
(READS_APPLICATIONS) are dropped first (``drop_triggers``) and made again afterwards.
tests/services/test_page_generations.py checks that every watched table has its triggers at
head.

Revision ID: 0025_page_generations
Revises: 0024_outbox_claimed_at
Create Date: 2026-12-02 14:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0025_page_generations"
down_revision = "0024_outbox_claimed_at"
branch_labels = None
depends_on = None

# A scope of a written row: (kind, column, where the column is read)
#   None           the row's own column
#   "application"  the row's case: applications.id = row.application_id
#   "applicant"    every case the row (a citizen) applied for: applications.applicant_id = row.id
# Kind "g" (the city) has no column.
CASE_PEOPLE = (("c", "applicant_id", "application"), ("c", "agent_id", "application"))
SCOPES: dict[str, tuple[tuple[str, str | None, str | None], ...]] = {
    "applications": (
        ("c", "applicant_id", None),
        ("c", "agent_id", None),
        ("d", "department_id", None),
    ),
    "application_materials": CASE_PEOPLE,
    "events": CASE_PEOPLE,
    "notices": CASE_PEOPLE,
    "visits": CASE_PEOPLE,
    "correction_requests": (*CASE_PEOPLE, ("d", "department_id", "application")),
    "ratings": (("c", "citizen_id", None), *CASE_PEOPLE),
    "documents": (("c", "owner_id", None),),
    "elicences": (("c", "holder_id", None),),
    "authorisations": (("c", "principal_id", None), ("c", "agent_id", None)),
    "citizens": (("c", "id", None), ("d", "department_id", "applicant")),
    "users": (("u", "id", None), ("c", "citizen_id", None)),
    "staff_roles": (("u", "user_id", None),),
    "counter_contexts": (("u", "staff_id", None),),
    "staff_reminders": (("d", "department_id", None), ("u", "user_id", None)),
    "calendar_days": (("g", None, None),),
}
READS_APPLICATIONS = tuple(
    table for table, scopes in SCOPES.items() if any(via for _k, _c, via in scopes)
)
EVENTS = ("insert", "update", "delete")


def _expression(kind: str, column: str | None, row: str) -> str:
    return "'g'" if column is None else f"'{kind}:' || {row}.{column}"


def _groups(table: str) -> dict[str | None, list[tuple[str, str | None]]]:
    """The table's scopes by where they are read (one join each)."""
    groups: dict[str | None, list[tuple[str, str | None]]] = {}
    for kind, column, via in SCOPES[table]:
        groups.setdefault(via, []).append((kind, column))
    return groups


# --- SQLite: row triggers -------------------------------------------------------------------

SQLITE_CASE = {
    "application": "FROM applications AS a WHERE a.id = {row}.application_id",
    "applicant": "FROM applications AS a WHERE a.applicant_id = {row}.id",
}


def _sqlite_scopes(table: str, row: str) -> list[str]:
    """SELECTs of the scopes of one row (NEW or OLD)."""
    selects = []
    for via, scopes in _groups(table).items():
        for kind, column in scopes:
            if via is None:
                selects.append(f"SELECT {_expression(kind, column, row)} AS scope")
            else:
                source = SQLITE_CASE[via].format(row=row)
                selects.append(f"SELECT {_expression(kind, column, 'a')} AS scope {source}")
    return selects


def _sqlite_trigger(table: str, event: str) -> str:
    rows = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}[event]
    scopes = " UNION ALL ".join(s for row in rows for s in _sqlite_scopes(table, row))
    return f"""
    CREATE TRIGGER page_generations_{table}_{event} AFTER {event.upper()} ON {table}
    BEGIN
        UPDATE page_generations SET generation = generation + 1
        WHERE scope IN (SELECT scope FROM ({scopes}));
        INSERT INTO page_generations (scope, generation)
        SELECT DISTINCT scope, 1 FROM ({scopes}) AS changed
        WHERE scope IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM page_generations AS p WHERE p.scope = changed.scope);
    END
    """


# --- PostgreSQL: statement triggers over the transition tables ------------------------------

POSTGRESQL_CASE = {
    "application": "JOIN applications AS a ON a.id = r.application_id",
    "applicant": "JOIN applications AS a ON a.applicant_id = r.id",
}


def _postgresql_scopes(table: str, rows: str) -> str:
    """A SELECT of the scopes of every row of a transition table (duplicates and NULLs too)."""
    selects = []
    for via, scopes in _groups(table).items():
        alias = "r" if via is None else "a"
        values = ", ".join(f"({_expression(kind, column, alias)})" for kind, column in scopes)
        join = "" if via is None else POSTGRESQL_CASE[via]
        selects.append(
            f"SELECT s.scope FROM {rows} AS r {join}"
            f" CROSS JOIN LATERAL (VALUES {values}) AS s (scope)"
        )
    return " UNION ALL ".join(selects)


def _postgresql_bump(scopes: str) -> str:
    return f"""
        INSERT INTO page_generations (scope, generation)
        SELECT DISTINCT scope, 1 FROM ({scopes}) AS changed WHERE scope IS NOT NULL;"""


def _postgresql_function(table: str) -> str:
    old, new = _postgresql_scopes(table, "old_rows"), _postgresql_scopes(table, "new_rows")
    return f"""
    CREATE FUNCTION page_generations_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN {_postgresql_bump(new)}
        ELSIF TG_OP = 'DELETE' THEN {_postgresql_bump(old)}
        ELSE {_postgresql_bump(f"{old} UNION ALL {new}")}
        END IF;
        RETURN NULL;
    END $$
    """


def _postgresql_trigger(table: str, event: str) -> str:
    referencing = {
        "insert": "NEW TABLE AS new_rows",
        "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "OLD TABLE AS old_rows",
    }[event]
    return f"""
    CREATE TRIGGER page_generations_{table}_{event} AFTER {event.upper()} ON {table}
    REFERENCING {referencing}
    FOR EACH STATEMENT EXECUTE FUNCTION page_generations_{table}()
    """


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def create_triggers(tables: tuple[str, ...] = tuple(SCOPES)) -> None:
    for table in tables:
        if _postgres():
            op.execute(_postgresql_function(table))
            for event in EVENTS:
                op.execute(_postgresql_trigger(table, event))
        else:
            for event in EVENTS:
                op.execute(_sqlite_trigger(table, event))


def drop_triggers(tables: tuple[str, ...] = tuple(SCOPES)) -> None:
    for table in tables:
        for event in EVENTS:
            name = f"page_generations_{table}_{event}"
            op.execute(
                f"DROP TRIGGER IF EXISTS {name} ON {table}"
                if _postgres()
                else f"DROP TRIGGER IF EXISTS {name}"
            )
        if _postgres():
            op.execute(f"DROP FUNCTION IF EXISTS page_generations_{table}()")


def upgrade():
    op.create_table(
        "page_generations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_generations")),
    )
    # a scope's sum read from the index alone
    op.create_index("ix_page_generations_scope", "page_generations", ["scope", "generation"])
    create_triggers()


def downgrade():
    drop_triggers()
    op.drop_index("ix_page_generations_scope", table_name="page_generations")
    op.drop_table("page_generations")
