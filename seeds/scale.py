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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import JSON, Table, bindparam, func, insert, select, text, update

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
CITIZEN_BATCH = 2000
APPLICATION_BATCH = 2000
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

    @property
    def rows(self) -> int:
        return sum(self.__dict__.values())


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


def reserve_ids(table: Table, count: int) -> list[int]:
    """Ids for rows not yet inserted, so that children can point at them in the same batch.

    PostgreSQL hands them out from the table's sequence (safe beside other writers); SQLite's
    transaction began with BEGIN IMMEDIATE, so no one else writes until we commit. Reserving
    ids lets every insert be a plain executemany (or COPY): SQLite cannot batch INSERT …
    RETURNING while keeping the rows in order, and SQLAlchemy then sends one row per statement.
    """
    if not count:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
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


def insert_rows(table: Table, rows: list[dict[str, Any]], *, ids: bool = False) -> list[int]:
    """A bulk insert (executemany on SQLite, COPY on PostgreSQL); with ids=True the rows get
    reserved ids, returned in row order."""
    if not rows:
        return []
    new_ids: list[int] = []
    if ids:
        new_ids = reserve_ids(table, len(rows))
        for row, new_id in zip(rows, new_ids, strict=True):
            row["id"] = new_id
    if db.session.get_bind().dialect.name == "postgresql":
        copy_rows(table, rows)
    else:
        db.session.execute(insert(table), rows)
    return new_ids


def copy_rows(table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY, in the session's transaction: psycopg's executemany sends one INSERT
    per row, which is several times slower. Values are given as SQLAlchemy would store them:
    enums by value, JSON columns as JSON text (None as JSON null)."""
    keys = list(rows[0])
    # COPY skips SQLAlchemy's Python-side defaults; the server's own defaults still apply
    unfilled = [
        c.name
        for c in table.c
        if c.default is not None and c.server_default is None and c.name not in keys
    ]
    if unfilled:
        raise ValueError(f"{table.name}: give {', '.join(unfilled)} explicitly for COPY")
    json_keys = {k for k in keys if isinstance(table.c[k].type, JSON)}
    columns = ", ".join(f'"{k}"' for k in keys)
    driver = db.session.connection().connection.driver_connection
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[k], ensure_ascii=False)
                    if k in json_keys
                    else row[k].value
                    if isinstance(row[k], enum.Enum)
                    else row[k]
                    for k in keys
                ]
            )


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


def load_citizens(
    count: int, report: ScaleReport, rng: random.Random, progress: Progress
) -> list[Person]:
    fake = make_faker(SEED + 1)
    id_numbers = set(db.session.scalars(select(Citizen.id_number)))
    phones = {p for p in db.session.scalars(select(Citizen.phone).union(select(User.phone))) if p}
    addresses = [fake.address().split(" ")[0][:100] for _ in range(min(count, 500) or 1)]
    names = (
        [fake.name_female() for _ in range(min(count, NAME_POOL))],
        [fake.name_male() for _ in range(min(count, NAME_POOL))],
    )
    people: list[Person] = []
    for start in range(0, count, CITIZEN_BATCH):
        rows = []
        for _ in range(min(CITIZEN_BATCH, count - start)):
            born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 56))
            female = rng.random() < 0.5
            id_number = make_id_number(born, rng, female=female)
            while id_number in id_numbers:
                id_number = make_id_number(born, rng, female=female)
            id_numbers.add(id_number)
            phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"
            while phone in phones:
                phone = f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 99_999_999):08d}"
            phones.add(phone)
            rows.append(
                {
                    "name": rng.choice(names[0] if female else names[1]),
                    "id_number": id_number,
                    "phone": phone,
                    "address": rng.choice(addresses),
                    "birth_date": born,
                    "gender": "F" if female else "M",
                    "commitment_barred": False,
                }
            )
        for row, citizen_id in zip(
            rows, insert_rows(Citizen.__table__, rows, ids=True), strict=True
        ):
            people.append(
                Person(citizen_id, row["name"], row["id_number"], row["phone"], row["address"])
            )
        report.citizens += len(rows)
        progress(len(rows))
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
    workdays = Workdays((now - SUBMITTED_WITHIN).date(), (now + timedelta(days=200)).date())
    fake = make_faker(SEED + 2)
    companies = [fake.company() for _ in range(200)]
    weights = [v.popularity + 1 for v in versions]
    seq = first_seq
    for start in range(0, count, APPLICATION_BATCH):
        size = min(APPLICATION_BATCH, count - start)
        chosen = rng.choices(versions, weights=weights, k=size)
        app_rows, materials_of = [], []
        for version in chosen:
            seq += 1
            person = rng.choice(people)
            row, materials = synthetic_application(
                seq, version, person, rng, now, workdays, companies
            )
            app_rows.append(row)
            materials_of.append(materials)
        app_ids = insert_rows(Application.__table__, app_rows, ids=True)
        material_rows = [
            {**m, "application_id": app_id}
            for app_id, materials in zip(app_ids, materials_of, strict=True)
            for m in materials
        ]
        insert_rows(ApplicationMaterial.__table__, material_rows)
        report.applications += len(app_rows)
        report.application_materials += len(material_rows)
        progress(size)


def synthetic_application(
    seq: int,
    version: VersionInfo,
    person: Person,
    rng: random.Random,
    now: datetime,
    workdays: Workdays,
    companies: list[str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    status = STATUS.pick(rng)
    stage = STATUSES.index(status)
    channel = CHANNEL.pick(rng)
    if channel == Channel.kiosk and not version.kiosk:
        channel = Channel.counter
    submitted = now - timedelta(seconds=rng.uniform(600, SUBMITTED_WITHIN.total_seconds()))
    accepted = decided = completed = None
    due = None
    if stage >= 1:
        accepted = min(now, submitted + timedelta(minutes=rng.uniform(5, 2880)))
        due = workdays.add(accepted.date(), version.promised_limit, version.promised_unit)
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
            form_data[q["key"]] = rng.choice(companies)
        elif q.get("type") == "select" and q.get("options"):
            form_data[q["key"]] = q["options"][0][0]
    answers = {
        q["key"]: rng.choice(q["options"])[0]
        for q in version.condition_questions
        if q.get("options")
    }
    materials: list[dict[str, Any]] = []
    required = reused = 0
    for req_id, necessity, condition, licensed, commitment in version.requirements:
        if condition and answers.get(condition.get("question")) != condition.get("equals"):
            continue
        if necessity == "shared":
            how = SatisfiedBy.shared
        elif licensed and rng.random() < 0.6:
            how = SatisfiedBy.elicence
        elif commitment and rng.random() < 0.2:
            how = SatisfiedBy.commitment
        elif necessity == "deferrable" and stage <= 1 and rng.random() < 0.4:
            how = SatisfiedBy.deferred
        elif necessity == "optional" and rng.random() < 0.5:
            how = SatisfiedBy.missing
        else:
            how = KEPT_DOCUMENT.pick(rng)
        if necessity != "optional":
            required += 1
        if how in (SatisfiedBy.shared, SatisfiedBy.elicence, SatisfiedBy.library):
            reused += 1
        checked = how not in (SatisfiedBy.missing, SatisfiedBy.deferred) and (
            stage >= 3 or (stage == 2 and rng.random() < 0.5)
        )
        materials.append(
            {
                "requirement_id": req_id,
                "document_id": None,
                "satisfied_by": how,
                "verdict": "ok" if checked else None,
                "verdict_reason": "",
            }
        )
    row = {
        "number": f"{PREFIX}{submitted:%Y%m%d}{seq:07d}",
        "item_version_id": version.id,
        "department_id": version.department_id,
        "applicant_id": person.id,
        "agent_id": None,
        "created_by_id": None,
        "parent_id": None,
        "channel": channel,
        "status": status,
        "form_data": form_data,
        "condition_answers": answers,
        "submit_token": None,
        "submitted_at": submitted,
        "accepted_at": accepted,
        "due_date": due,
        "decided_at": decided,
        "completed_at": completed,
        "visit_count": 1 if channel == Channel.counter else 0,
        "materials_required": required,
        "materials_reused": reused,
        "created_at": submitted,
        "updated_at": completed or decided or accepted or submitted,
        "version": 1,
    }
    return row, materials


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
    default one per two cases), and `accounts` citizens who can log in (see load_accounts)."""
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
    if db.session.get_bind().dialect.name == "sqlite":
        # a million cases' indexes do not fit SQLite's default 2 MB page cache, and inserting
        # in random index order then reads and writes the same pages again and again; this
        # connection only (the pool's other connections keep the default)
        db.session.execute(text("PRAGMA cache_size = -1000000"))  # KiB: up to 1 GB
    progress = progress or (lambda n: None)
    rng = random.Random(SEED)
    report = ScaleReport()
    dept_ids, dept_info = load_departments(report)
    materials = load_material_types(report)
    themes = load_themes(report)
    with memoised_pinyin():
        versions = load_items(items, report, rng, dept_ids, dept_info, materials, themes, progress)
    people = load_citizens(citizens, report, rng, progress)
    load_applications(applications, report, rng, versions, people, progress)
    load_accounts(accounts, report, rng, versions, first_seq=applications)
    return report
