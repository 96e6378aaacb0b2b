"""Integers from outside, bounded in one place.

Every integer the portal takes from a URL (the ``int`` converter), a query string or a form
(``parse_int``) is ASCII digits only (``"²".isdigit()`` is true, ``int("²")`` fails) and fits a
database id (PostgreSQL ``integer``; SQLite refuses anything past 2**63 with an exception).
A value outside that is simply not a number: a 404 in a path, ``None`` elsewhere.
"""

from __future__ import annotations

import re
from datetime import date

from flask import abort, request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` accepting 0 … MAX_ID written in ASCII digits; anything else is a 404."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits=0, min=0, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def parse_int(raw: object, *, lo: int = 0, hi: int = MAX_ID) -> int | None:
    """``raw`` as an int in [lo, hi], or None when it is not such a number."""
    if not isinstance(raw, str) or not _DIGITS.fullmatch(raw.strip()):
        return None
    value = int(raw.strip())
    return value if lo <= value <= hi else None


def arg_int(name: str, *, lo: int = 0, hi: int = MAX_ID) -> int | None:
    """``?name=N`` from the query string, or None."""
    return parse_int(request.args.get(name, ""), lo=lo, hi=hi)


def form_version() -> int:
    """The case version a staff or citizen form was drawn from; a 400 when it is not a number."""
    version = parse_int(request.form.get("version", ""))
    if version is None:
        abort(400)
    return version


# the days a page may be asked to show: far enough for any booking or record, near enough that
# the previous and next day still exist (date.max + 1 day is an OverflowError)
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


def parse_day(raw: object) -> date | None:
    """``YYYY-MM-DD`` as a date between FIRST_DAY and LAST_DAY, or None."""
    if not isinstance(raw, str):
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None
