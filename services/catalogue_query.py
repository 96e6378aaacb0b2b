"""Reading the published catalogue: the home overview, the filtered list, search and guides.

Every function loads what its page needs in a fixed number of queries, whatever the size of
the catalogue (tests/portal/test_catalogue_queries.py counts them). Only published versions
are ever shown: an item without one does not exist for the public.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal.extensions import db
from portal.models import (
    Bundle,
    BundleItem,
    Department,
    Document,
    DocumentStatus,
    ItemVersion,
    MaterialRequirement,
    ServiceItem,
    Theme,
)
from portal.models.catalogue import version_themes
from services import clock
from services.search import normalise, pinyin_forms

PER_PAGE = 20
MAX_PAGE = 10_000
MAX_QUERY_CHARS = 100
AUDIENCES = ("person", "organisation")
MAX_CODE_LENGTH = 32  # ServiceItem.code and Bundle.code columns are no longer than this


@dataclass(frozen=True)
class ItemSummary:
    """One line of a list: enough to decide whether to open the guide."""

    code: str
    name: str
    department: str
    audience: str
    visits: int
    online_depth: int
    case_type: str
    promised_limit: int | None
    promised_limit_unit: str


@dataclass(frozen=True)
class ThemeCount:
    id: int
    name: str
    audience: str
    count: int


@dataclass(frozen=True)
class DepartmentCount:
    code: str
    name: str
    count: int


@dataclass(frozen=True)
class BundleSummary:
    code: str
    name: str
    description: str


@dataclass
class HomeOverview:
    popular: list[ItemSummary]
    person_themes: list[ThemeCount]
    organisation_themes: list[ThemeCount]
    departments: list[DepartmentCount]
    bundles: list[BundleSummary]


@dataclass(frozen=True)
class CatalogueFilters:
    """The catalogue's filters; None / False means "any"."""

    theme_id: int | None = None
    department_code: str | None = None
    audience: str | None = None
    max_visits: int | None = None  # 0 跑零次, 1 最多跑一次
    full_online: bool = False  # 全程网办 (online_depth 4)
    instant: bool = False  # 即办件


@dataclass
class ResultPage:
    items: list[ItemSummary]
    total: int
    page: int
    pages: int
    per_page: int


@dataclass
class SearchResults(ResultPage):
    query: str = ""
    bundles: list[BundleSummary] = field(default_factory=list)

    @property
    def found_nothing(self) -> bool:
        return bool(self.query) and not self.items and not self.bundles


def _summary_select() -> Select:
    """Published items with the columns of an ItemSummary (one row per item)."""
    return (
        select(
            ServiceItem.code,
            ItemVersion.name,
            Department.name,
            ItemVersion.audience,
            ItemVersion.visits,
            ItemVersion.online_depth,
            ItemVersion.case_type,
            ItemVersion.promised_limit,
            ItemVersion.promised_limit_unit,
        )
        .select_from(ServiceItem)
        .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
        .join(Department, Department.id == ItemVersion.department_id)
    )


def _summaries(rows) -> list[ItemSummary]:
    return [ItemSummary(*row) for row in rows]


def _page_bounds(total: int, page: int, per_page: int) -> tuple[int, int]:
    """(page, pages) with page clamped into range, so a too-large page shows the last one."""
    pages = max(1, math.ceil(total / per_page))
    return min(max(page, 1), pages), pages


def theme_counts() -> list[ThemeCount]:
    """Every theme with its number of published items (one query)."""
    rows = db.session.execute(
        select(Theme.id, Theme.name, Theme.audience, func.count(ServiceItem.id))
        .select_from(Theme)
        .outerjoin(version_themes, version_themes.c.theme_id == Theme.id)
        .outerjoin(ServiceItem, ServiceItem.published_version_id == version_themes.c.version_id)
        .group_by(Theme.id, Theme.name, Theme.audience, Theme.position)
        .order_by(Theme.position, Theme.id)
    )
    return [ThemeCount(*row) for row in rows]


def department_counts() -> list[DepartmentCount]:
    """Active departments that have published items, with how many (one query)."""
    rows = db.session.execute(
        select(Department.code, Department.name, func.count(ServiceItem.id))
        .join(ServiceItem, ServiceItem.department_id == Department.id)
        .where(ServiceItem.published_version_id.is_not(None), Department.active.is_(True))
        .group_by(Department.id, Department.code, Department.name)
        .order_by(Department.id)
    )
    return [DepartmentCount(*row) for row in rows]


def published_bundles() -> list[BundleSummary]:
    rows = db.session.execute(
        select(Bundle.code, Bundle.name, Bundle.description)
        .where(Bundle.published.is_(True))
        .order_by(Bundle.code)
    )
    return [BundleSummary(*row) for row in rows]


def popular_items(count: int = 8) -> list[ItemSummary]:
    """The most used published items (one query)."""
    return _summaries(
        db.session.execute(
            _summary_select().order_by(ServiceItem.popularity.desc(), ServiceItem.code).limit(count)
        )
    )


def home_overview(popular_count: int = 8) -> HomeOverview:
    """What the home page shows, in four queries."""
    popular = popular_items(popular_count)
    themes = [t for t in theme_counts() if t.count > 0]
    return HomeOverview(
        popular=popular,
        person_themes=[t for t in themes if t.audience == "person"],
        organisation_themes=[t for t in themes if t.audience == "organisation"],
        departments=department_counts(),
        bundles=published_bundles(),
    )


def _filter_conditions(filters: CatalogueFilters) -> list:
    conditions = []
    if filters.theme_id is not None:
        conditions.append(
            select(version_themes.c.version_id)
            .where(
                version_themes.c.version_id == ItemVersion.id,
                version_themes.c.theme_id == filters.theme_id,
            )
            .exists()
        )
    if filters.department_code:
        conditions.append(Department.code == filters.department_code)
    if filters.audience in AUDIENCES:
        conditions.append(ItemVersion.audience == filters.audience)
    if filters.max_visits is not None:
        conditions.append(ItemVersion.visits <= filters.max_visits)
    if filters.full_online:
        conditions.append(ItemVersion.online_depth == 4)
    if filters.instant:
        conditions.append(ItemVersion.case_type == "instant")
    return conditions


def list_catalogue(
    filters: CatalogueFilters, page: int = 1, per_page: int = PER_PAGE
) -> ResultPage:
    """One page of published items matching ``filters``, most used first (two queries)."""
    conditions = _filter_conditions(filters)
    total = (
        db.session.scalar(
            select(func.count(ServiceItem.id))
            .select_from(ServiceItem)
            .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
            .join(Department, Department.id == ItemVersion.department_id)
            .where(*conditions)
        )
        or 0
    )
    page, pages = _page_bounds(total, page, per_page)
    items = _summaries(
        db.session.execute(
            _summary_select()
            .where(*conditions)
            .order_by(ServiceItem.popularity.desc(), ServiceItem.code)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return ResultPage(items=items, total=total, page=page, pages=pages, per_page=per_page)


# --- search ---------------------------------------------------------------------------------


def clean_query(raw: str | None) -> str:
    """The search key: normalised (full-width folded, no spaces or control characters), at
    most MAX_QUERY_CHARS characters, without the '|' that separates search_text's parts."""
    text = (raw or "")[: MAX_QUERY_CHARS * 4]  # bound the work before normalising
    return normalise(text).replace("|", "")[:MAX_QUERY_CHARS]


def display_query(raw: str | None) -> str:
    """What the search box shows back: the query as typed, minus control characters, bounded."""
    text = "".join(ch for ch in (raw or "")[: MAX_QUERY_CHARS * 4] if ch.isprintable() or ch == " ")
    return " ".join(text.split())[:MAX_QUERY_CHARS]


@lru_cache(maxsize=16384)
def _name_key(name: str) -> str:
    """normalise(name), remembered: a broad query ranks thousands of names per search."""
    return normalise(name)


def name_rank(name: str, query: str) -> int:
    """0 exact name, 1 name starts with the query, 2 name contains it, 3 matched otherwise
    (keyword, synonym, code or pinyin)."""
    key = _name_key(name)
    if key == query:
        return 0
    if key.startswith(query):
        return 1
    if query in key:
        return 2
    return 3


@lru_cache(maxsize=4096)
def _bundle_terms(name: str, description: str) -> tuple[str, str, str, str]:
    full, initials = pinyin_forms(name)
    return normalise(name), full, initials, normalise(description)


def _search_bundles(query: str) -> list[BundleSummary]:
    """Bundles whose name (also in pinyin) or description matches, or that contain a matching
    item: "生孩子" is a synonym of 出生登记, so it finds 出生一件事 (one query)."""
    via_items = (
        select(BundleItem.bundle_id)
        .join(ServiceItem, ServiceItem.id == BundleItem.item_id)
        .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
        .where(
            BundleItem.bundle_id == Bundle.id,
            ItemVersion.search_text.contains(query, autoescape=True),
        )
        .exists()
    )
    rows = db.session.execute(
        select(Bundle.code, Bundle.name, Bundle.description, via_items)
        .where(Bundle.published.is_(True))
        .order_by(Bundle.code)
    )
    ranked = []
    for code, name, description, matched_items in rows:
        terms = _bundle_terms(name, description or "")
        if matched_items or any(query in term for term in terms):
            ranked.append((name_rank(name, query), code, BundleSummary(code, name, description)))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [r[2] for r in ranked]


def search_catalogue(
    raw_query: str | None, page: int = 1, per_page: int = PER_PAGE
) -> SearchResults:
    """Published items and bundles matching the query by name, code, keyword, synonym or
    pinyin (full or initials), ranked: exact name, name prefix, name contains, then the rest;
    more used items first within a rank. Three queries, LIKE on the normalised search_text
    with its wildcards escaped, so it runs the same on SQLite and PostgreSQL."""
    query = clean_query(raw_query)
    if not query:
        return SearchResults(items=[], total=0, page=1, pages=1, per_page=per_page, query="")
    candidates = db.session.execute(
        select(ServiceItem.id, ItemVersion.name, ServiceItem.popularity, ServiceItem.code)
        .join(ItemVersion, ItemVersion.id == ServiceItem.published_version_id)
        .where(ItemVersion.search_text.contains(query, autoescape=True))
    ).all()
    candidates.sort(key=lambda r: (name_rank(r.name, query), -r.popularity, r.code))
    total = len(candidates)
    page, pages = _page_bounds(total, page, per_page)
    ids = [r.id for r in candidates[(page - 1) * per_page : page * per_page]]
    items: list[ItemSummary] = []
    if ids:
        rows = db.session.execute(
            _summary_select().add_columns(ServiceItem.id).where(ServiceItem.id.in_(ids))
        )
        by_id = {row[-1]: ItemSummary(*row[:-1]) for row in rows}
        items = [by_id[i] for i in ids if i in by_id]
    bundles = _search_bundles(query) if page == 1 else []
    return SearchResults(
        items=items,
        total=total,
        page=page,
        pages=pages,
        per_page=per_page,
        query=query,
        bundles=bundles,
    )


# --- guides ---------------------------------------------------------------------------------


def describe_condition(version: ItemVersion, condition: dict | None) -> str:
    """A requirement's 情形 in words, from the version's condition questions:
    {"question": "basis", "equals": "house"} → '您申领居住证的依据是？“在本市有住所（自有或租房）”'."""
    if not condition:
        return ""
    key, wanted = condition.get("question"), condition.get("equals")
    for question in version.condition_questions or []:
        if question.get("key") != key:
            continue
        for option in question.get("options") or []:
            if isinstance(option, dict):  # {"value": …, "label": …}
                value, label = option.get("value"), option.get("label", option.get("value"))
            elif isinstance(option, list | tuple):  # [value, label], as in seeds/catalogue_data.py
                value, label = option[0], option[-1]
            else:
                value = label = option
            if value == wanted:
                return f"{question.get('label', '')}“{label}”"
        return f"{question.get('label', '')}“{wanted}”"
    return str(wanted or "")


@dataclass(frozen=True)
class PublishedKey:
    """Identifies the immutable content of an item's published guide."""

    version_id: int
    published_at: datetime | None


def published_key(code: str) -> PublishedKey | None:
    """The item's published version (one small query), or None: unknown or unpublished."""
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    row = db.session.execute(
        select(ItemVersion.id, ItemVersion.published_at)
        .join(ServiceItem, ServiceItem.published_version_id == ItemVersion.id)
        .where(ServiceItem.code == code)
    ).first()
    return PublishedKey(row[0], row[1]) if row else None


def load_guide(version_id: int) -> ItemVersion | None:
    """A published version with everything its guide shows (two queries)."""
    return (
        db.session.scalars(
            select(ItemVersion)
            .where(ItemVersion.id == version_id)
            .options(
                joinedload(ItemVersion.item),
                joinedload(ItemVersion.department),
                joinedload(ItemVersion.themes),
                selectinload(ItemVersion.requirements).joinedload(
                    MaterialRequirement.material_type
                ),
            )
        )
        .unique()
        .first()
    )


def published_guide(code: str) -> ItemVersion | None:
    """The published version of the item ``code`` fully loaded, or None (three queries)."""
    key = published_key(code)
    return load_guide(key.version_id) if key else None


def bundles_containing(code: str) -> list[BundleSummary]:
    """The published bundles (一件事) an item belongs to (one query)."""
    rows = db.session.execute(
        select(Bundle.code, Bundle.name, Bundle.description)
        .join(BundleItem, BundleItem.bundle_id == Bundle.id)
        .join(ServiceItem, ServiceItem.id == BundleItem.item_id)
        .where(ServiceItem.code == code, Bundle.published.is_(True))
        .order_by(Bundle.code)
    )
    return [BundleSummary(*row) for row in rows]


def materials_on_file(citizen_id: int, version_id: int, today: date | None = None) -> set[int]:
    """The material types of a version's requirements that the citizen already has as a valid,
    unexpired document in the library (one query). The apply flow decides what is reusable;
    this only tells the guide reader what is already on file."""
    today = today or clock.local_today()
    rows = db.session.scalars(
        select(Document.material_type_id)
        .join(
            MaterialRequirement, MaterialRequirement.material_type_id == Document.material_type_id
        )
        .where(
            MaterialRequirement.version_id == version_id,
            Document.owner_id == citizen_id,
            Document.status == DocumentStatus.valid,
            or_(Document.valid_until.is_(None), Document.valid_until >= today),
        )
        .distinct()
    )
    return set(rows)


def load_bundle(code: str) -> Bundle | None:
    """A published bundle with its items' published versions, departments and materials
    (three queries)."""
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    return db.session.scalars(
        select(Bundle)
        .where(Bundle.code == code, Bundle.published.is_(True))
        .options(
            selectinload(Bundle.entries)
            .joinedload(BundleItem.item)
            .joinedload(ServiceItem.published_version)
            .joinedload(ItemVersion.department),
            selectinload(Bundle.entries)
            .joinedload(BundleItem.item)
            .joinedload(ServiceItem.published_version)
            .selectinload(ItemVersion.requirements)
            .joinedload(MaterialRequirement.material_type),
        )
    ).first()
