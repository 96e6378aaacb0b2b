"""What the statistics filters offer: departments, items, themes and halls, in four queries.

The statistics themselves are services/statistics.py; this only lists the choices a filter form
shows, by id and name. An item is listed under the name of its published version (an item that
was never published has no cases to count).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Department, ItemVersion, ServiceHall, ServiceItem, Theme

# beyond this many items the item filter lists only the chosen department's (a select of
# thousands of options helps no one and weighs hundreds of kilobytes)
MAX_ITEM_CHOICES = 300


@dataclass(frozen=True)
class Choice:
    id: int
    name: str
    group: str = ""  # the department of an item


@dataclass(frozen=True)
class FilterChoices:
    departments: list[Choice]
    items: list[Choice]
    items_need_department: bool  # too many items to list them all: choose a department first
    themes: list[Choice]
    halls: list[Choice]


def filter_choices(department_id: int | None = None) -> FilterChoices:
    """The choices of the statistics filters; items only of ``department_id`` when given (a
    reviewer's department, or the department chosen) or when there are too many to list."""
    departments = [
        Choice(d_id, name)
        for d_id, name in db.session.execute(
            select(Department.id, Department.name).order_by(Department.name, Department.id)
        )
    ]
    items_stmt = (
        select(ServiceItem.id, ItemVersion.name, Department.name)
        .join(ItemVersion, ServiceItem.published_version_id == ItemVersion.id)
        .join(Department, Department.id == ServiceItem.department_id)
        .order_by(Department.name, ItemVersion.name, ServiceItem.id)
    )
    need_department = False
    if department_id is not None:
        items_stmt = items_stmt.where(ServiceItem.department_id == department_id)
    else:
        published = db.session.scalar(
            select(func.count(ServiceItem.id)).where(ServiceItem.published_version_id.is_not(None))
        )
        need_department = (published or 0) > MAX_ITEM_CHOICES
    items = (
        []
        if need_department
        else [Choice(i, name, dept) for i, name, dept in db.session.execute(items_stmt)]
    )
    themes = [
        Choice(t_id, name)
        for t_id, name in db.session.execute(
            select(Theme.id, Theme.name).order_by(Theme.position, Theme.id)
        )
    ]
    halls = [
        Choice(h_id, name)
        for h_id, name in db.session.execute(
            select(ServiceHall.id, ServiceHall.name).order_by(ServiceHall.id)
        )
    ]
    return FilterChoices(departments, items, need_department, themes, halls)


@dataclass(frozen=True)
class PublishedItem:
    id: int
    code: str
    name: str
    department_name: str


def published_items() -> list[PublishedItem]:
    """Every published item with its name and department, in one query (the public
    performance list puts each item's figures next to these)."""
    return [
        PublishedItem(*row)
        for row in db.session.execute(
            select(ServiceItem.id, ServiceItem.code, ItemVersion.name, Department.name)
            .join(ItemVersion, ServiceItem.published_version_id == ItemVersion.id)
            .join(Department, Department.id == ServiceItem.department_id)
            .order_by(ServiceItem.code)
        )
    ]
