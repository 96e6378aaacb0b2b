"""The scopes of personal pages, and which tables' writes change them.

A cached personal page is keyed by the generations of the scopes whose data it shows
(``page_generations``, portal.models.PageGeneration). The database bumps them: triggers on
every table of WATCHED add 1 to the scopes of the row written, old and new (migration 0025).
A page may only read tables listed here, for the kinds of scope it is keyed by; otherwise a
write to what it shows would leave it stale.

Kinds: ``c`` a citizen's own pages (我的办件, a case, 我的材料), ``u`` a user's own pages (the
staff workstations), ``d`` a department's reviewer queue, ``g`` the whole city (the
working-day calendar every due date is counted on).
"""

from __future__ import annotations

from services import appended_rows

CITIZEN = "c"
USER = "u"
DEPARTMENT = "d"
CITY = "g"
CITY_SCOPE = CITY

# table -> the kinds of scope a write to it bumps (migration 0025's SCOPES says through
# which columns: a case's applicant, agent and department; a row of a case through its case)
WATCHED: dict[str, frozenset[str]] = {
    "applications": frozenset({CITIZEN, DEPARTMENT}),
    "application_materials": frozenset({CITIZEN}),
    "events": frozenset({CITIZEN}),
    "notices": frozenset({CITIZEN}),
    "visits": frozenset({CITIZEN}),
    "correction_requests": frozenset({CITIZEN, DEPARTMENT}),
    "ratings": frozenset({CITIZEN}),
    "documents": frozenset({CITIZEN}),
    "elicences": frozenset({CITIZEN}),
    "authorisations": frozenset({CITIZEN}),
    # the queue shows its applicants' names: a citizen's change bumps their cases' departments
    "citizens": frozenset({CITIZEN, DEPARTMENT}),
    "users": frozenset({USER, CITIZEN}),
    "staff_roles": frozenset({USER}),
    "counter_contexts": frozenset({USER}),
    "staff_reminders": frozenset({DEPARTMENT, USER}),
    "calendar_days": frozenset({CITY}),
}


def citizen_scope(citizen_id: int) -> str:
    return f"{CITIZEN}:{citizen_id}"


def user_scope(user_id: int) -> str:
    return f"{USER}:{user_id}"


def department_scope(department_id: int) -> str:
    return f"{DEPARTMENT}:{department_id}"


def compact_page_generations() -> int:
    """Fold each scope's appended rows into one (services/appended_rows.py): a scope's sum,
    the generation every kept page is keyed by, stays what it was, and a scope is never
    dropped (its generation is not 0). Returns the rows removed; the caller commits."""
    return appended_rows.fold("page_generations", ("scope",), "generation", drop_zero=False)
