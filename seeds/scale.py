"""The scale data set: a Shanghai-size catalogue and synthetic applications, for benchmarks.

`flask seed scale --items 3600 --applications 20000` adds 40 departments, about 300 material
types, the published items and the applications (one synthetic citizen per two). On top of the
demo data it reuses the demo's departments and material types, growing the demo catalogue to
Shanghai size; on an empty database it makes its own copies of them, under codes that
`seed demo` will not collide with.

Unlike the demo seed it does not go through the services one object at a time (a flush per
object would take minutes): it writes the rows the services would write, in batches, with
executemany on SQLite and COPY on PostgreSQL, giving parent rows reserved ids so that their
children can point at them. The rows are what publishing makes: published versions whose
search_text comes from services.search.build_search_text, requirements pointing at material
types that exist, guides that services.catalogue.publish_errors accepts (the tests check every
item pattern). No audit events are written, so the hash chain is left as it was. Every code and
number it makes starts with "SC", which is how a second run is recognised and refused.
"""

from __future__ import annotations

import bisect
import enum
import functools
import itertools
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import JSON, Table, bindparam, func, select, text, update

from portal.extensions import db
from portal.models import (
    Application,
    ApplicationMaterial,
    Channel,
    Citizen,
    Department,
    Grade,
    ItemVersion,
    MaterialRequirement,
    MaterialType,
    SatisfiedBy,
    ServiceItem,
    Theme,
    User,
    VersionStatus,
)
from portal.models.base import utcnow
from portal.models.catalogue import version_themes
from seeds import catalogue_data as demo_data
from seeds import scale_data as data
from seeds.demo import ORG_THEMES, PERSON_THEMES, guide_from_spec
from seeds.factories import SEED, make_faker, make_id_number, make_png
from services import search
from services.accounts import create_citizen_account, hash_password
from services.catalogue import GUIDE_FIELDS, get_or_create_theme
from services.documents import add_document
from services.search import build_search_text

PREFIX = "SC"
ITEM_BATCH = 400
CITIZEN_BATCH = 10_000
APPLICATION_BATCH = 5_000
APPLICATIONS_PER_CITIZEN = 2
MAX_REQUIREMENTS = 10
STATUSES = ("submitted", "accepted", "in_review", "approved", "completed")
NAME_POOL = 3000  # Faker names, reused: the same name for different people is normal
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "158",
    "159",
    "176",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "199",
)
SUBMITTED_WITHIN = timedelta(days=180)
# login accounts for benchmarks (--accounts): phones 17000000001 … ("170" is not in
# MOBILE_PREFIXES, so they never collide with a generated citizen), the demo password; the
# first holds ACCOUNT_CASES cases and ACCOUNT_DOCUMENTS documents, the size the personal pages
# are measured at
ACCOUNT_PHONE_PREFIX = "170"
ACCOUNT_PASSWORD = "Demo@2026"
ACCOUNT_CASES = 50
ACCOUNT_DOCUMENTS = 100

Progress = Callable[[int], None]


class Weighted:
    """A weighted choice with its cumulative weights computed once (rng.choices recomputes them)."""

    def __init__(self, options: tuple, weights: tuple[int, ...]) -> None:
        self.options = options
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> Any:
        return self.options[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


STATUS = Weighted(STATUSES, (12, 13, 20, 15, 40))
CHANNEL = Weighted((Channel.online, Channel.counter, Channel.kiosk), (72, 23, 5))
KEPT_DOCUMENT = Weighted((SatisfiedBy.library, SatisfiedBy.upload), (35, 65))
EXTRA_NECESSITY = Weighted(("required", "optional", "deferrable"), (7, 2, 1))


class ScaleRefused(Exception):
    """The scale seed will not run here (production, or scale data already present)."""


@dataclass
class ScaleReport:
    """What one run inserted, table by table."""

    departments: int = 0
    material_types: int = 0
    themes: int = 0
    items: int = 0
    versions: int = 0
    version_themes: int = 0
    requirements: int = 0
    citizens: int = 0
    applications: int = 0
    application_materials: int = 0
    phases: dict[str, float] = field(default_factory=dict)  # step → seconds

    @property
    def rows(self) -> int:
        return sum(v for v in self.__dict__.values() if isinstance(v, int))

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round(time.perf_counter() - started, 1)


@dataclass
class ItemPattern:
    """An item pattern: a demo item (full guide) or a name from scale_data (guide from a pattern)."""

    kind: str  # department kind: a demo department code or an EXTRA_DEPARTMENTS code
    name: str
    audience: str
    themes: list[str]
    spec: dict[str, Any] | None = None
    materials: list[str] = field(default_factory=list)  # material names, for pattern items
    law: str = ""


@dataclass
class VersionInfo:
    """What the application generator needs to know about one generated version."""

    id: int
    department_id: int
    popularity: int
    promised_limit: int
    promised_unit: str
    kiosk: bool
    questions: list[dict[str, Any]]
    condition_questions: list[dict[str, Any]]
    # (requirement id, necessity, condition, has an e-licence, commitment allowed)
    requirements: list[tuple[int, str, dict | None, bool, bool]]


# ---------------------------------------------------------------- guards and sizes


@functools.cache
def item_patterns() -> list[ItemPattern]:
    out = [
        ItemPattern(
            kind=s["department"],
            name=s["name"],
            audience=s["audience"],
            themes=list(s["themes"]),
            spec=s,
        )
        for s in demo_data.ITEMS
    ]
    for kind, _name, law, items, materials in data.EXTRA_DEPARTMENTS:
        for name, audience, theme in items:
            out.append(
                ItemPattern(
                    kind=kind,
                    name=name,
                    audience="person" if audience == "p" else "organisation",
                    themes=[theme],
                    materials=[f"{name}申请书", *materials],
                    law=law,
                )
            )
    # round-robin over departments, so that even a small run gives every department items
    by_kind: dict[str, list[ItemPattern]] = {}
    for pattern in out:
        by_kind.setdefault(pattern.kind, []).append(pattern)
    queues = list(by_kind.values())
    return [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]


def max_items() -> int:
    """Each item pattern appears once per district, then once per district and sub-item."""
    return len(item_patterns()) * len(data.DISTRICTS) * (1 + len(data.VARIANTS))


def citizens_for(applications: int) -> int:
    return math.ceil(applications / APPLICATIONS_PER_CITIZEN)


def planned_records(items: int, applications: int, citizens: int | None = None) -> int:
    """The progress bar's length: items, citizens and applications."""
    return items + (citizens_for(applications) if citizens is None else citizens) + applications


def account_phone(index: int) -> str:
    """The phone (login name) of the index-th benchmark account, from 0."""
    return f"{ACCOUNT_PHONE_PREFIX}{index + 1:08d}"


def scale_present() -> str | None:
    """Why a second run must be refused, or None when no scale data is there."""
    checks = (
        (ServiceItem.code, "service items"),
        (Department.code, "departments"),
        (MaterialType.code, "material types"),
        (Application.number, "applications"),
    )
    for column, label in checks:
        code = db.session.scalar(select(column).where(column.like(f"{PREFIX}%")).limit(1))
        if code is not None:
            return f"scale data is already present ({label} with codes like {code})"
    return None


def check_allowed() -> None:
    if current_app.config["PORTAL_ENV"] == "production":
        raise ScaleRefused("scale data is never loaded in production")
    reason = scale_present()
    if reason:
        raise ScaleRefused(reason)


# ---------------------------------------------------------------- bulk insert

# the tables that grow with the number of cases: their secondary indexes (and on PostgreSQL
# their unique and foreign-key constraints) are dropped while loading and built again after it,
# in one sort each, instead of being updated row by row in random order
BULK_TABLES = ("citizens", "applications", "application_materials")


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def driver_connection() -> Any:
    """The DB-API connection of the session's transaction (sqlite3 or psycopg)."""
    return db.session.connection().connection.driver_connection


def reserve_ids(table: Table, count: int) -> list[int]:
    """Ids for rows not yet inserted, so that children can point at them in the same batch.

    PostgreSQL hands them out from the table's sequence (safe beside other writers); SQLite's
    transaction began with BEGIN IMMEDIATE, so no one else writes until we commit. Reserving
    ids lets every insert be a plain executemany (or COPY): SQLite cannot batch INSERT …
    RETURNING while keeping the rows in order, and SQLAlchemy then sends one row per statement.
    """
    if not count:
        return []
    if dialect_name() == "postgresql":
        return list(
            db.session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
                ),
                {"table": table.name, "n": count},
            )
        )
    start = (db.session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))


def json_serializer() -> Callable[[Any], str]:
    """What SQLAlchemy's JSON type writes with (the engine's serializer, else json.dumps)."""
    return db.session.get_bind().dialect._json_serializer or json.dumps


def converters(table: Table, keys: list[str]) -> list[Callable[[Any], Any] | None]:
    """Per column, the function turning a Python value into what the driver is given, exactly
    as SQLAlchemy would (its bind processors: dates as text on SQLite, enums by value, the
    UTC check of UTCDateTime); JSON columns as JSON text (COPY and the raw executemany take
    no Python objects for them)."""
    dialect = db.session.get_bind().dialect
    serialise = json_serializer()
    return [
        serialise
        if isinstance(table.c[k].type, JSON)
        else table.c[k].type._cached_bind_processor(dialect)
        for k in keys
    ]


@functools.cache
def _unfilled(table: Table, keys: tuple[str, ...]) -> list[str]:
    # raw inserts skip SQLAlchemy's Python-side defaults; the server's own defaults still apply
    return [
        c.name
        for c in table.c
        if c.default is not None and c.server_default is None and c.name not in keys
    ]


def insert_tuples(table: Table, keys: list[str] | tuple[str, ...], rows: list[tuple]) -> None:
    """The fast path: rows as tuples in the order of `keys`, values already as the driver takes
    them (see Stored). executemany on the raw sqlite3 connection; COPY on PostgreSQL (psycopg's
    executemany sends one INSERT per row, several times slower)."""
    if not rows:
        return
    if unfilled := _unfilled(table, tuple(keys)):
        raise ValueError(f"{table.name}: give {', '.join(unfilled)} explicitly")
    columns = ", ".join(f'"{k}"' for k in keys)
    connection = driver_connection()
    if dialect_name() == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(keys))
        # the table's and columns' names come from the models' metadata, the values are bound
        sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'  # nosec B608
        connection.executemany(sql, rows)


def insert_rows(table: Table, rows: list[dict[str, Any]], *, ids: bool = False) -> list[int]:
    """A bulk insert of rows given as dicts (all with the keys of the first), converted as
    SQLAlchemy would convert them; with ids=True the rows get reserved ids, returned in row
    order."""
    if not rows:
        return []
    new_ids: list[int] = []
    if ids:
        new_ids = reserve_ids(table, len(rows))
        for row, new_id in zip(rows, new_ids, strict=True):
            row["id"] = new_id
    keys = list(rows[0])
    convert = list(zip(keys, converters(table, keys), strict=True))
    insert_tuples(
        table,
        keys,
        [
            tuple(f(row[k]) if f is not None and row[k] is not None else row[k] for k, f in convert)
            for row in rows
        ],
    )
    return new_ids


@dataclass(frozen=True)
class Stored:
    """Values as the driver takes them, for the hot loops that build tuples directly: what
    SQLAlchemy's bind processors give, without a function call per value
    (tests/services/test_scale_seed.py checks they agree)."""

    stamp: Callable[[datetime], Any]  # a UTC datetime
    day: Callable[[date], Any]
    json: Callable[[Any], str]
    enum: Callable[[enum.Enum], str]

    @classmethod
    def here(cls) -> Stored:
        serialise = json_serializer()
        if dialect_name() == "postgresql":
            return cls(_same, _same, serialise, _enum_value)
        # SQLAlchemy's SQLite DATETIME text: "2026-12-02 08:30:00.000123", the zone dropped
        return cls(_sqlite_stamp, date.isoformat, serialise, _enum_value)


def _same(value: Any) -> Any:
    return value


def _sqlite_stamp(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")[:26]


def _enum_value(member: enum.Enum) -> str:
    return member.value  # enum_column stores values (values_callable)


@dataclass
class Dropped:
    """What drop_bulk_indexes() dropped: statements that make it again, in order."""

    statements: list[str] = field(default_factory=list)


def drop_bulk_indexes(tables: tuple[str, ...] = BULK_TABLES) -> Dropped:
    """Drop the tables' secondary indexes for the load, to be made again by restore_indexes
    after it (one sort each instead of a random-order insert per row); on PostgreSQL also the
    unique and foreign-key constraints, which are added back (and so checked) at the end. All
    inside the transaction: a failed load rolls the drops back too. SQLite's unique
    constraints and foreign keys stay (they cannot be dropped; its foreign keys are checked
    as rows arrive), and so do PostgreSQL's partial and expression indexes."""
    dropped = Dropped()
    if dialect_name() == "postgresql":
        names = {"tables": list(tables)}
        # unique constraints that a foreign key leans on stay
        constraints = db.session.execute(
            text(
                "SELECT con.conname, con.conrelid::regclass::text, pg_get_constraintdef(con.oid)"
                " FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
                " WHERE c.relname = ANY(:tables) AND (con.contype = 'f' OR con.contype = 'u'"
                "   AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f'"
                "   AND f.conindid = con.conindid))"
                " ORDER BY con.contype DESC, con.conname"  # unique (u) before foreign (f)
            ),
            names,
        ).all()
        indexes = db.session.execute(
            text(
                "SELECT ic.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid"
                " WHERE c.relname = ANY(:tables) AND NOT i.indisprimary"
                # pg_get_indexdef does not give back a partial index's predicate word for word
                " AND i.indpred IS NULL AND i.indexprs IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid"
                "   AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))"
                " ORDER BY ic.relname"
            ),
            names,
        ).all()
        for name, table, _definition in reversed(constraints):  # foreign keys first
            db.session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for name, _definition in indexes:
            db.session.execute(text(f'DROP INDEX "{name}"'))
        dropped.statements.append("SET LOCAL maintenance_work_mem = '512MB'")
        dropped.statements += [
            f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
            for name, table, definition in constraints
        ]
        dropped.statements += [definition for _name, definition in indexes]
        return dropped
    indexes = db.session.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN (SELECT value FROM json_each(:tables)) ORDER BY name"
        ),
        {"tables": json.dumps(list(tables))},
    ).all()
    for name, sql in indexes:
        db.session.execute(text(f'DROP INDEX "{name}"'))
        dropped.statements.append(sql)
    return dropped


def restore_indexes(dropped: Dropped) -> None:
    for statement in dropped.statements:
        db.session.execute(text(statement))


@contextmanager
def sqlite_bulk_settings() -> Iterator[None]:
    """On SQLite, for this connection while loading: a page cache big enough for a million
    cases' tables and indexes (the default 2 MB makes every index insert read and write pages
    again) and sorts for CREATE INDEX in memory; both set back afterwards (the connection
    returns to the pool). Journal and synchronous modes cannot change inside the transaction
    the caller began; in WAL mode nothing is synced before the commit anyway."""
    if dialect_name() != "sqlite":
        yield
        return
    saved = {
        pragma: db.session.execute(text(f"PRAGMA {pragma}")).scalar()
        for pragma in ("cache_size", "temp_store")
    }
    db.session.execute(text("PRAGMA cache_size = -1000000"))  # KiB: up to 1 GB
    db.session.execute(text("PRAGMA temp_store = MEMORY"))
    try:
        yield
    finally:
        for pragma, value in saved.items():
            db.session.execute(text(f"PRAGMA {pragma} = {int(value)}"))


def batched(seq: list, size: int) -> Iterable[list]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


@contextmanager
def memoised_pinyin() -> Iterator[None]:
    """Remember pinyin while generating: thousands of items repeat the same keywords, and
    pypinyin is the slowest part of build_search_text. The search text itself is unchanged."""
    original = search.pinyin_forms
    search.pinyin_forms = functools.lru_cache(maxsize=8192)(original)
    try:
        yield
    finally:
        search.pinyin_forms = original


# ---------------------------------------------------------------- catalogue skeleton


def load_departments(report: ScaleReport) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    """40 departments: the demo's 13 (reused when present) and 27 more. Returns kind → id, info."""
    existing = {
        code: (dept_id, name)
        for code, dept_id, name in db.session.execute(
            select(Department.code, Department.id, Department.name)
        )
    }
    ids: dict[str, int] = {}
    info: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    kinds: list[str] = []
    for d in demo_data.DEPARTMENTS:
        info[d["code"]] = d
        found = existing.get(d["code"])
        if found and found[1] == d["name"]:
            ids[d["code"]] = found[0]
        else:
            rows.append({**d, "code": PREFIX + d["code"], "active": True})
            kinds.append(d["code"])
    for n, (kind, name, _law, _items, _materials) in enumerate(data.EXTRA_DEPARTMENTS):
        d = {
            "code": PREFIX + kind,
            "name": name,
            "phone": f"0571-8721{n:04d}",
            "address": f"市民服务中心{n % 5 + 1}号楼（{name}综合窗口）",
            "hours": "工作日 9:00-17:00",
            "active": True,
        }
        info[kind] = d
        rows.append(d)
        kinds.append(kind)
    for kind, new_id in zip(kinds, insert_rows(Department.__table__, rows, ids=True), strict=True):
        ids[kind] = new_id
    report.departments = len(rows)
    return ids, info


def material_category(name: str) -> str:
    if name.endswith(("申请书", "申请表", "登记表", "采集表", "申领表", "确认表", "备案表")):
        return "申请表"
    if "身份" in name:
        return "身份证明"
    if "户" in name:
        return "户籍证明"
    if any(w in name for w in ("房屋", "住房", "不动产")):
        return "房产证明"
    return "其他"


@dataclass
class Materials:
    by_code: dict[str, int]  # demo code (M001) → id
    by_name: dict[str, int]
    code_in_db: dict[
        str, str
    ]  # demo code → the code it has here (M001, or SCM001 without the demo)
    licensed: set[int]  # ids of types that are e-licences


def load_material_types(report: ScaleReport) -> Materials:
    """About 300 types: the demo's (reused when present, copied otherwise) and the scale lists."""
    existing = {
        code: (mt_id, name)
        for code, mt_id, name in db.session.execute(
            select(MaterialType.code, MaterialType.id, MaterialType.name)
        )
    }
    by_code: dict[str, int] = {}
    by_name: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    row_keys: list[tuple[str | None, str]] = []
    licensed_codes: set[str] = set()
    code_in_db: dict[str, str] = {}
    for m in demo_data.MATERIAL_TYPES:
        if m.get("licence_type_code"):
            licensed_codes.add(m["code"])
        found = existing.get(m["code"])
        if found and found[1] == m["name"]:
            by_code[m["code"]] = by_name[m["name"]] = found[0]
            code_in_db[m["code"]] = m["code"]
            continue
        code_in_db[m["code"]] = PREFIX + m["code"]
        validity = m.get("validity") or {"kind": "none"}
        rows.append(
            _material_row(
                PREFIX + m["code"],
                m["name"],
                m.get("category", ""),
                m.get("description", ""),
                m["source"],
                m.get("licence_type_code"),
                validity["kind"],
                validity.get("months"),
            )
        )
        row_keys.append((m["code"], m["name"]))
    names: list[str] = []
    for pattern in item_patterns():
        names.extend(pattern.materials)
    names.extend(data.COMMON_MATERIALS)
    for extra in data.DEMO_DEPARTMENT_MATERIALS.values():
        names.extend(extra)
    serial = 0
    for name in dict.fromkeys(names):  # unique, in order
        if name in by_name or any(name == key[1] for key in row_keys):
            continue
        serial += 1
        issued = name.endswith(("证书", "许可证", "执照"))
        proof = name.endswith("证明") and not issued
        rows.append(
            _material_row(
                f"{PREFIX}T{serial:04d}",
                name,
                material_category(name),
                f"{name}。按事项要求提供，内容须真实、完整、有效。",
                "issued" if issued else "self",
                None,
                "months" if proof else "none",
                3 if proof else None,
            )
        )
        row_keys.append((None, name))
    for (code, name), new_id in zip(
        row_keys, insert_rows(MaterialType.__table__, rows, ids=True), strict=True
    ):
        by_name[name] = new_id
        if code is not None:
            by_code[code] = new_id
    report.material_types = len(rows)
    return Materials(by_code, by_name, code_in_db, {by_code[c] for c in licensed_codes})


def _material_row(
    code: str,
    name: str,
    category: str,
    description: str,
    source: str,
    licence_type_code: str | None,
    validity_kind: str,
    months: int | None,
) -> dict:
    return {
        "code": code,
        "name": name,
        "category": category,
        "description": description,
        "source": source,
        "licence_type_code": licence_type_code,
        "validity_kind": validity_kind,
        "validity_months": months if validity_kind == "months" else None,
        "blank_form_key": None,
        "example_key": None,
    }


def load_themes(report: ScaleReport) -> dict[str, int]:
    before = set(db.session.scalars(select(Theme.name)))
    for i, name in enumerate(PERSON_THEMES):
        get_or_create_theme(name, "person", i)
    for i, name in enumerate(ORG_THEMES):
        get_or_create_theme(name, "organisation", 100 + i)
    for pattern in item_patterns():
        for name in pattern.themes:
            get_or_create_theme(name)
    themes = {name: theme_id for name, theme_id in db.session.execute(select(Theme.name, Theme.id))}
    report.themes = len(set(themes) - before)
    return themes


# ---------------------------------------------------------------- items


def item_name(pattern: ItemPattern, district: str, variant: str | None) -> str:
    """'浦东新区居住证申领', '浦东新区居住证申领（补办）', '浦东新区失业登记（有效期满，补办）'."""
    name = district + pattern.name
    if variant is None:
        return name
    if name.endswith("）"):
        return f"{name[:-1]}，{variant}）"
    return f"{name}（{variant}）"


def item_plan(
    count: int,
    patterns: list[ItemPattern],
) -> Iterable[tuple[int, ItemPattern, str, str | None]]:
    """Spread items over patterns, districts and sub-items so that a small run is varied too."""
    per_round = len(patterns)
    for n in range(count):
        b, r = n % per_round, n // per_round
        district = data.DISTRICTS[(r + b) % len(data.DISTRICTS)]
        v = r // len(data.DISTRICTS)
        yield n, patterns[b], district, (data.VARIANTS[v - 1] if v else None)


def result_of(name: str, item_type: str) -> tuple[str, str]:
    if name.endswith("许可"):
        return name + "证", "licence"
    for verb in ("核发", "签发", "申领", "补发"):
        if name.endswith(verb) and name[: -len(verb)].endswith("证"):
            return name[: -len(verb)], "licence"
    if item_type == "licensing":
        return f"准予{name}决定书", "approval"
    return f"{name}办理结果告知书", "other"


def pattern_guide(pattern: ItemPattern, dept: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A complete, publishable guide for an item known only by name."""
    name = pattern.name
    if any(w in name for w in ("许可", "审批", "核发", "签发", "审核")):
        item_type = "licensing"
    elif any(w in name for w in ("认定", "登记", "备案", "核准", "注册", "评定")):
        item_type = "confirmation"
    elif any(w in name for w in ("发放", "补助", "援助", "申领")):
        item_type = "benefit"
    else:
        item_type = "public_service"
    instant = item_type != "licensing" and rng.random() < 0.25
    legal = rng.choice((1, 3, 5)) if instant else rng.choice((10, 15, 20, 20, 30))
    promised = 0 if instant else max(1, legal // rng.choice((2, 3, 4)))
    limits = (1, promised - 3, 1, 1) if promised >= 3 else (0, promised, 0, 0)
    steps = [
        {"name": step, "role": role, "limit": limit}
        for (step, role), limit in zip(
            (
                ("受理", "counter"),
                ("审查", "reviewer"),
                ("决定", "reviewer"),
                ("送达（邮寄或电子送达）", "counter"),
            ),
            limits,
            strict=True,
        )
    ]
    roll = rng.random()
    visits = 0 if roll < 0.6 else (1 if roll < 0.95 else 2)
    reasons = {
        1: rng.choice(
            ("需要到现场核验材料原件。", "需要现场勘验经营场所。", "需要本人到场签字确认。")
        ),
        2: "首次到现场提交并核验原件，领取结果时需本人到场签收。",
    }
    person = pattern.audience == "person"
    result_name, result_type = result_of(name, item_type)
    who = "自然人" if person else "依法设立的法人或者其他组织"
    questions = [
        {
            "key": "name",
            "label": "申请人姓名" if person else "经办人姓名",
            "type": "text",
            "required": True,
            "prefill": "name",
            "help": "",
        },
        {
            "key": "id_number",
            "label": "公民身份号码",
            "type": "id_number",
            "required": True,
            "prefill": "id_number",
            "help": "",
        },
        {
            "key": "phone",
            "label": "联系电话",
            "type": "phone",
            "required": True,
            "prefill": "phone",
            "help": "办理进度会短信通知您",
        },
    ]
    if person:
        questions.append(
            {
                "key": "address",
                "label": "联系地址",
                "type": "address",
                "required": False,
                "prefill": "address",
                "help": "",
            }
        )
    else:
        questions[0:0] = [
            {
                "key": "company_name",
                "label": "单位名称",
                "type": "text",
                "required": True,
                "prefill": None,
                "help": "与营业执照上的名称一致",
            },
            {
                "key": "credit_code",
                "label": "统一社会信用代码",
                "type": "credit_code",
                "required": True,
                "prefill": None,
                "help": "18 位",
            },
        ]
    return {
        "item_type": item_type,
        "audience": pattern.audience,
        "legal_basis": f"{pattern.law}；本市相关实施办法。",
        "conditions": f"符合{pattern.law}规定条件的{who}，可以申请办理{name}。",
        "legal_limit": legal,
        "legal_limit_unit": "working",
        "promised_limit": promised,
        "promised_limit_unit": "working",
        "case_type": "instant" if instant else "promised",
        "steps": steps,
        "visits": visits,
        "visits_reason": reasons.get(visits, ""),
        "online_depth": 4 if visits == 0 else rng.choice((2, 3)),
        "hours": dept["hours"],
        "phone": dept["phone"],
        "complaint_phone": "12345",
        "fees": [],
        "result_name": result_name,
        "result_type": result_type,
        "result_licence_type_code": None,
        "faqs": [
            {
                "q": f"{name}多久能办好？",
                "a": "材料齐全、符合条件的，当场办结。"
                if instant
                else f"材料齐全、符合条件的，{promised}个工作日内办结。",
            },
            {"q": "可以请别人代办吗？", "a": "可以。代办人带上授权委托书和本人身份证件。"},
        ],
        "keywords": [name],
        "synonyms": [],
        "questions": questions,
        "condition_questions": [],
        "commitment_text": "",
        "auto_rules": [],
        "kiosk_enabled": False,
    }


def demo_guide(pattern: ItemPattern, materials: Materials) -> dict[str, Any]:
    """A demo item's guide, with its auto rules naming the material types of this database."""
    guide = guide_from_spec(pattern.spec)
    guide["auto_rules"] = [
        {**rule, "material": materials.code_in_db[rule["material"]]}
        if rule.get("kind") == "elicence"
        else rule
        for rule in guide.get("auto_rules", [])
    ]
    return guide


def requirement_row(
    material_type_id: int,
    position: int,
    name: str,
    rng: random.Random,
    *,
    necessity: str = "required",
) -> dict[str, Any]:
    original = rng.random() < 0.6
    return {
        "material_type_id": material_type_id,
        "position": position,
        "original": original,
        "form": rng.choice(("electronic", "electronic", "paper")),
        "copies": rng.choice((1, 1, 1, 2)),
        "necessity": necessity,
        "condition": None,
        "notes": f"提供{name}{'原件' if original else '复印件'}，网上办理的上传清晰的扫描件或照片。",
        "acceptance_standard": f"{name}真实有效，内容与申请信息一致。",
        "commitment_allowed": necessity != "shared" and rng.random() < 0.15,
    }


def requirements_for(
    pattern: ItemPattern, materials: Materials, rng: random.Random
) -> list[dict[str, Any]]:
    """2 to 10 requirements, each for a different material type that exists."""
    mt_by_code, mt_by_name = materials.by_code, materials.by_name
    rows: list[dict[str, Any]] = []
    used: set[int] = set()

    def add(
        mt_id: int, name: str, necessity: str = "required", template: dict | None = None
    ) -> None:
        if mt_id in used or len(rows) >= MAX_REQUIREMENTS:
            return
        used.add(mt_id)
        row = requirement_row(mt_id, len(rows), name, rng, necessity=necessity)
        if template is not None:
            row.update(
                {
                    k: template.get(k, row[k])
                    for k in (
                        "original",
                        "form",
                        "copies",
                        "necessity",
                        "notes",
                        "acceptance_standard",
                        "commitment_allowed",
                    )
                }
            )
            row["condition"] = template.get("condition")
        rows.append(row)

    extras = list(data.DEMO_DEPARTMENT_MATERIALS.get(pattern.kind, ())) + list(
        data.COMMON_MATERIALS
    )
    if pattern.spec is not None:
        names = {m["code"]: m["name"] for m in demo_data.MATERIAL_TYPES}
        for m in pattern.spec["materials"]:
            add(mt_by_code[m["type"]], names[m["type"]], template=m)
        for name in rng.sample(extras, rng.randint(0, 3)):
            add(mt_by_name[name], name, rng.choice(("optional", "deferrable", "required")))
    else:
        if pattern.audience == "person":
            add(mt_by_code["M001"], "居民身份证")
        else:
            add(mt_by_code["M008"], "营业执照", "shared")
            add(mt_by_name["法定代表人身份证明书"], "法定代表人身份证明书")
        own = pattern.materials[0]
        add(mt_by_name[own], own)
        pool = pattern.materials[1:] + extras
        for name in rng.sample(pool, min(len(pool), rng.randint(0, 7))):
            add(mt_by_name[name], name, EXTRA_NECESSITY.pick(rng))
    return rows


def version_row(guide: dict[str, Any]) -> dict[str, Any]:
    """Every ItemVersion column, so that all rows of one INSERT have the same keys."""
    row = {key: guide.get(key) for key in GUIDE_FIELDS}
    for key in (
        "steps",
        "fees",
        "faqs",
        "keywords",
        "synonyms",
        "questions",
        "condition_questions",
        "auto_rules",
    ):
        row[key] = row[key] or []
    row["commitment_text"] = row["commitment_text"] or ""
    row["kiosk_enabled"] = bool(row["kiosk_enabled"])
    return row


def load_items(
    count: int,
    report: ScaleReport,
    rng: random.Random,
    dept_ids: dict[str, int],
    dept_info: dict[str, dict[str, Any]],
    materials: Materials,
    themes: dict[str, int],
    progress: Progress,
) -> list[VersionInfo]:
    patterns = item_patterns()
    now = utcnow()
    infos: list[VersionInfo] = []
    plan = list(item_plan(count, patterns))
    demo_guides: dict[str, dict[str, Any]] = {}
    for chunk in batched(plan, ITEM_BATCH):
        item_rows, version_rows, themes_of, reqs_of = [], [], [], []
        for n, pattern, district, variant in chunk:
            dept = dept_info[pattern.kind]
            if pattern.spec is not None:
                if pattern.name not in demo_guides:
                    demo_guides[pattern.name] = demo_guide(pattern, materials)
                guide = dict(demo_guides[pattern.name])
                popularity = int(pattern.spec.get("popularity", 50) * rng.uniform(0.02, 0.4))
            else:
                guide = pattern_guide(pattern, dept, rng)
                popularity = int(rng.paretovariate(1.5) * 5)
            name = item_name(pattern, district, variant)
            guide["name"] = name
            guide["location"] = f"{district}行政服务中心（{dept['name']}窗口）"
            if variant:
                guide["keywords"] = [*guide.get("keywords", []), variant]
            code = f"{PREFIX}{n + 1:010d}"
            created = now - timedelta(days=rng.uniform(30, 900))
            item_rows.append(
                {
                    "code": code,
                    "department_id": dept_ids[pattern.kind],
                    "published_version_id": None,
                    "popularity": popularity,
                    "created_at": created,
                }
            )
            row = version_row(guide)
            row.update(
                {
                    "number": 1,
                    "status": VersionStatus.published,
                    "department_id": dept_ids[pattern.kind],
                    "search_text": build_search_text(code, name, row["keywords"], row["synonyms"]),
                    "created_by_id": None,
                    "created_at": created,
                    "published_at": created + timedelta(hours=rng.uniform(1, 72)),
                }
            )
            version_rows.append(row)
            themes_of.append({themes[t] for t in pattern.themes})
            reqs_of.append(requirements_for(pattern, materials, rng))
        item_ids = insert_rows(ServiceItem.__table__, item_rows, ids=True)
        for row, item_id in zip(version_rows, item_ids, strict=True):
            row["item_id"] = item_id
        version_ids = insert_rows(ItemVersion.__table__, version_rows, ids=True)
        db.session.execute(
            update(ServiceItem.__table__)
            .where(ServiceItem.__table__.c.id == bindparam("b_item"))
            .values(published_version_id=bindparam("b_version")),
            [{"b_item": i, "b_version": v} for i, v in zip(item_ids, version_ids, strict=True)],
        )
        link_rows = [
            {"version_id": v, "theme_id": t}
            for v, ts in zip(version_ids, themes_of, strict=True)
            for t in sorted(ts)
        ]
        insert_rows(version_themes, link_rows)
        req_rows = []
        for v, reqs in zip(version_ids, reqs_of, strict=True):
            for r in reqs:
                r["version_id"] = v
                req_rows.append(r)
        req_ids = iter(insert_rows(MaterialRequirement.__table__, req_rows, ids=True))
        for row, v, reqs, item_row in zip(
            version_rows, version_ids, reqs_of, item_rows, strict=True
        ):
            infos.append(
                VersionInfo(
                    id=v,
                    department_id=row["department_id"],
                    popularity=item_row["popularity"],
                    promised_limit=row["promised_limit"] or 0,
                    promised_unit=row["promised_limit_unit"],
                    kiosk=row["kiosk_enabled"],
                    questions=row["questions"],
                    condition_questions=row["condition_questions"],
                    requirements=[
                        (
                            next(req_ids),
                            r["necessity"],
                            r["condition"],
                            r["material_type_id"] in materials.licensed,
                            bool(r["commitment_allowed"]),
                        )
                        for r in reqs
                    ],
                )
            )
        report.items += len(item_rows)
        report.versions += len(version_rows)
        report.version_themes += len(link_rows)
        report.requirements += len(req_rows)
        progress(len(chunk))
    return infos


# ---------------------------------------------------------------- people and applications


@dataclass
class Person:
    id: int
    name: str
    id_number: str
    phone: str
    address: str


CITIZEN_COLUMNS = (
    "id",
    "name",
    "id_number",
    "phone",
    "address",
    "birth_date",
    "gender",
    "commitment_barred",
)


def load_citizens(
    count: int, report: ScaleReport, rng: random.Random, progress: Progress
) -> list[Person]:
    fake = make_faker(SEED + 1)
    stored = Stored.here()
    id_numbers = set(db.session.scalars(select(Citizen.id_number)))
    phones = {p for p in db.session.scalars(select(Citizen.phone).union(select(User.phone))) if p}
    addresses = [fake.address().split(" ")[0][:100] for _ in range(min(count, 500) or 1)]
    names = (
        [fake.name_female() for _ in range(min(count, NAME_POOL))],
        [fake.name_male() for _ in range(min(count, NAME_POOL))],
    )
    first_day = date(1950, 1, 1)
    people: list[Person] = []
    for start in range(0, count, CITIZEN_BATCH):
        size = min(CITIZEN_BATCH, count - start)
        rows = []
        for citizen_id in reserve_ids(Citizen.__table__, size):
            born = first_day + timedelta(days=rng.randint(0, 365 * 56))
            female = rng.random() < 0.5
            id_number = make_id_number(born, rng, female=female)
            while id_number in id_numbers:
                id_number = make_id_number(born, rng, female=female)
            id_numbers.add(id_number)
            phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"
            while phone in phones:
                phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"
            phones.add(phone)
            name = rng.choice(names[0] if female else names[1])
            address = rng.choice(addresses)
            rows.append(
                (
                    citizen_id,
                    name,
                    id_number,
                    phone,
                    address,
                    stored.day(born),
                    "F" if female else "M",
                    False,
                )
            )
            people.append(Person(citizen_id, name, id_number, phone, address))
        insert_tuples(Citizen.__table__, CITIZEN_COLUMNS, rows)
        report.citizens += size
        progress(size)
    return people


class Workdays:
    """Working days (Chinese public holidays where chinese_calendar knows the year, else Mon–Fri)."""

    def __init__(self, start: date, end: date) -> None:
        import chinese_calendar

        self.days: list[date] = []
        day = start
        while day <= end:
            try:
                working = chinese_calendar.is_workday(day)
            except NotImplementedError:
                working = day.weekday() < 5
            if working:
                self.days.append(day)
            day += timedelta(days=1)

    def add(self, start: date, count: int, unit: str) -> date:
        if unit == "natural" or count <= 0:
            return start + timedelta(days=max(count, 0))
        i = bisect.bisect_right(self.days, start) + count - 1
        return self.days[i] if i < len(self.days) else start + timedelta(days=count * 7 // 5 + 1)


APPLICATION_COLUMNS = (
    "id",
    "number",
    "item_version_id",
    "department_id",
    "applicant_id",
    "channel",
    "status",
    "form_data",
    "condition_answers",
    "submitted_at",
    "accepted_at",
    "due_date",
    "decided_at",
    "completed_at",
    "visit_count",
    "materials_required",
    "materials_reused",
    "created_at",
    "updated_at",
    "version",
)
MATERIAL_COLUMNS = ("application_id", "requirement_id", "satisfied_by", "verdict", "verdict_reason")


@dataclass
class Synthesis:
    """What every synthetic application of one run shares."""

    rng: random.Random
    now: datetime
    workdays: Workdays
    companies: list[str]
    stored: Stored


def load_applications(
    count: int,
    report: ScaleReport,
    rng: random.Random,
    versions: list[VersionInfo],
    people: list[Person],
    progress: Progress,
    *,
    first_seq: int = 0,
) -> None:
    """`count` applications by people chosen at random (one person: all theirs); the case
    numbers count on from first_seq."""
    if not count:
        return
    now = utcnow()
    fake = make_faker(SEED + 2)
    run = Synthesis(
        rng=rng,
        now=now,
        workdays=Workdays((now - SUBMITTED_WITHIN).date(), (now + timedelta(days=200)).date()),
        companies=[fake.company() for _ in range(200)],
        stored=Stored.here(),
    )
    cumulative = list(itertools.accumulate(v.popularity + 1 for v in versions))
    seq = first_seq
    for start in range(0, count, APPLICATION_BATCH):
        size = min(APPLICATION_BATCH, count - start)
        chosen = rng.choices(versions, cum_weights=cumulative, k=size)
        app_rows: list[tuple] = []
        material_rows: list[tuple] = []
        for app_id, version in zip(reserve_ids(Application.__table__, size), chosen, strict=True):
            seq += 1
            app_rows.append(
                synthetic_application(app_id, seq, version, rng.choice(people), run, material_rows)
            )
        insert_tuples(Application.__table__, APPLICATION_COLUMNS, app_rows)
        insert_tuples(ApplicationMaterial.__table__, MATERIAL_COLUMNS, material_rows)
        report.applications += len(app_rows)
        report.application_materials += len(material_rows)
        progress(size)


STAGE = {status: n for n, status in enumerate(STATUSES)}
SUBMITTED_SECONDS = SUBMITTED_WITHIN.total_seconds()
STAYS_OPEN = (SatisfiedBy.missing, SatisfiedBy.deferred)
REUSED = (SatisfiedBy.shared, SatisfiedBy.elicence, SatisfiedBy.library)


def synthetic_application(
    app_id: int,
    seq: int,
    version: VersionInfo,
    person: Person,
    run: Synthesis,
    material_rows: list[tuple],
) -> tuple:
    """One case as a row of APPLICATION_COLUMNS; its materials are appended to material_rows
    (rows of MATERIAL_COLUMNS)."""
    rng, now, stored = run.rng, run.now, run.stored
    status = STATUS.pick(rng)
    stage = STAGE[status]
    channel = CHANNEL.pick(rng)
    if channel is Channel.kiosk and not version.kiosk:
        channel = Channel.counter
    submitted = now - timedelta(seconds=rng.uniform(600, SUBMITTED_SECONDS))
    accepted = decided = completed = None
    due = None
    if stage >= 1:
        accepted = min(now, submitted + timedelta(minutes=rng.uniform(5, 2880)))
        due = run.workdays.add(accepted.date(), version.promised_limit, version.promised_unit)
    if stage >= 3:
        decided = min(
            now, accepted + timedelta(days=rng.uniform(0, max(version.promised_limit, 1)))
        )
    if stage >= 4:
        completed = min(now, decided + timedelta(hours=rng.uniform(0, 48)))
    values = {
        "name": person.name,
        "id_number": person.id_number,
        "phone": person.phone,
        "address": person.address,
    }
    form_data: dict[str, Any] = {}
    for q in version.questions:
        if q.get("prefill") in values:
            form_data[q["key"]] = values[q["prefill"]]
        elif q["key"] == "company_name":
            form_data[q["key"]] = rng.choice(run.companies)
        elif q.get("type") == "select" and q.get("options"):
            form_data[q["key"]] = q["options"][0][0]
    answers = {
        q["key"]: rng.choice(q["options"])[0]
        for q in version.condition_questions
        if q.get("options")
    }
    required = reused = 0
    random_ = rng.random
    for req_id, necessity, condition, licensed, commitment in version.requirements:
        if condition and answers.get(condition.get("question")) != condition.get("equals"):
            continue
        if necessity == "shared":
            how = SatisfiedBy.shared
        elif licensed and random_() < 0.6:
            how = SatisfiedBy.elicence
        elif commitment and random_() < 0.2:
            how = SatisfiedBy.commitment
        elif necessity == "deferrable" and stage <= 1 and random_() < 0.4:
            how = SatisfiedBy.deferred
        elif necessity == "optional" and random_() < 0.5:
            how = SatisfiedBy.missing
        else:
            how = KEPT_DOCUMENT.pick(rng)
        if necessity != "optional":
            required += 1
        if how in REUSED:
            reused += 1
        checked = how not in STAYS_OPEN and (stage >= 3 or (stage == 2 and random_() < 0.5))
        material_rows.append((app_id, req_id, stored.enum(how), "ok" if checked else None, ""))
    stamp = stored.stamp
    return (
        app_id,
        f"{PREFIX}{submitted:%Y%m%d}{seq:07d}",
        version.id,
        version.department_id,
        person.id,
        stored.enum(channel),
        status,
        stored.json(form_data),
        stored.json(answers),
        stamp(submitted),
        None if accepted is None else stamp(accepted),
        None if due is None else stored.day(due),
        None if decided is None else stamp(decided),
        None if completed is None else stamp(completed),
        1 if channel is Channel.counter else 0,
        required,
        reused,
        stamp(submitted),
        stamp(completed or decided or accepted or submitted),
        1,
    )


# ---------------------------------------------------------------- entry point


def load_accounts(
    count: int,
    report: ScaleReport,
    rng: random.Random,
    versions: list[VersionInfo],
    first_seq: int,
) -> None:
    """`count` citizens who can log in (account_phone(i), ACCOUNT_PASSWORD), made through the
    registration service; the first gets ACCOUNT_CASES cases and ACCOUNT_DOCUMENTS documents
    in its library (one per material type, stored files, through the library service)."""
    fake = make_faker(SEED + 3)
    password_hash = hash_password(ACCOUNT_PASSWORD)
    id_numbers = set(db.session.scalars(select(Citizen.id_number)))
    users = []
    for i in range(count):
        born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 56))
        female = rng.random() < 0.5
        id_number = make_id_number(born, rng, female=female)
        while id_number in id_numbers:
            id_number = make_id_number(born, rng, female=female)
        id_numbers.add(id_number)
        users.append(
            create_citizen_account(
                phone=account_phone(i),
                password_hash=password_hash,
                name=fake.name_female() if female else fake.name_male(),
                id_number=id_number,
                address=fake.address().split(" ")[0][:100],
            )
        )
        report.citizens += 1
    if not users:
        return
    holder = users[0].citizen
    person = Person(holder.id, holder.name, holder.id_number, holder.phone, holder.address)
    load_applications(
        ACCOUNT_CASES, report, rng, versions, [person], lambda n: None, first_seq=first_seq
    )
    kinds = db.session.scalars(
        select(MaterialType).order_by(MaterialType.id).limit(ACCOUNT_DOCUMENTS)
    ).all()
    scan = make_png()
    today = utcnow().date()
    for n, kind in enumerate(kinds):
        add_document(
            owner=holder,
            material_type=kind,
            data=scan,
            content_type="image/png",
            filename=f"{kind.name}.png",
            grade=Grade.C,
            source="upload",
            issued_on=today - timedelta(days=30 + 7 * n),
        )


def load_scale(
    items: int,
    applications: int,
    progress: Progress | None = None,
    *,
    citizens: int | None = None,
    accounts: int = 0,
) -> ScaleReport:
    """Insert the scale data set in the current transaction (the caller commits): `items`
    published items, `applications` cases spread over `citizens` synthetic citizens (by
    default one per two cases), and `accounts` citizens who can log in (see load_accounts).
    The report says how long each step took (report.phases)."""
    if not 1 <= items <= max_items():
        raise ScaleRefused(f"--items must be between 1 and {max_items()}")
    if applications < 0:
        raise ScaleRefused("--applications must not be negative")
    if citizens is None:
        citizens = citizens_for(applications)
    if citizens < 0 or accounts < 0:
        raise ScaleRefused("--citizens and --accounts must not be negative")
    if applications and not citizens:
        raise ScaleRefused("applications need at least one citizen")
    check_allowed()
    progress = progress or (lambda n: None)
    rng = random.Random(SEED)
    report = ScaleReport()
    with sqlite_bulk_settings():
        with report.phase("catalogue"):
            dept_ids, dept_info = load_departments(report)
            materials = load_material_types(report)
            themes = load_themes(report)
            with memoised_pinyin():
                versions = load_items(
                    items, report, rng, dept_ids, dept_info, materials, themes, progress
                )
        dropped = drop_bulk_indexes()
        with report.phase("citizens"):
            people = load_citizens(citizens, report, rng, progress)
        with report.phase("applications"):
            load_applications(applications, report, rng, versions, people, progress)
        with report.phase("indexes"):
            restore_indexes(dropped)
        with report.phase("accounts"):
            load_accounts(accounts, report, rng, versions, first_seq=applications)
    return report
