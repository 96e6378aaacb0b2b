"""Counters kept as appended rows: on PostgreSQL a trigger adds a row per change (+1, -1)
instead of updating one row, so writers never wait for each other on a hot counter; the
reader sums a key's rows. `flask jobs run` folds them back into one row a key.

Used by the reviewer queue's counts (``queue_counts``, services/review.py) and the kept
personal pages' generations (``page_generations``, services/page_scopes.py)."""

from __future__ import annotations

from sqlalchemy import text

from portal.extensions import db

# identifiers only, from the callers' constants (``fold``): never a request's value
_FOLD = (
    "WITH gone AS ("
    " DELETE FROM {table} WHERE {match} IN ("
    "  SELECT {columns} FROM {table} GROUP BY {columns} HAVING count(*) > 1)"
    " RETURNING {columns}, {value}),"
    " kept AS ("
    " INSERT INTO {table} ({columns}, {value})"
    " SELECT {columns}, sum({value}) FROM gone GROUP BY {columns}{having}"
    " RETURNING 1)"
    " SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept)"
)


def fold(table: str, keys: tuple[str, ...], value: str, *, drop_zero: bool) -> int:
    """Fold each key's rows of ``table`` into one whose ``value`` is their sum (PostgreSQL;
    SQLite's triggers keep one row a key already). One statement: it sums exactly the rows it
    deletes, so a change committed meanwhile is neither lost nor counted twice, and every
    key's sum stays what it was; safe on several machines at once. ``drop_zero``: a key whose
    rows sum to nothing keeps no row. Returns the rows removed; the caller commits.

    ``table``, ``keys`` and ``value`` are the callers' own constants, never a request's."""
    if db.session.get_bind().dialect.name != "postgresql":
        return 0
    columns = ", ".join(keys)
    match = f"({columns})" if len(keys) > 1 else columns
    template = _FOLD.replace("{having}", f" HAVING sum({value}) <> 0" if drop_zero else "")
    statement = template.format(table=table, columns=columns, match=match, value=value)  # nosec B608
    return int(db.session.execute(text(statement)).scalar() or 0)
