"""一件事 case page: the sub-cases' materials merged by type (how each was provided, for which
sub-cases), every sub-case number a link to its own page, and a query count that does not grow
with the number of sub-cases."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

from sqlalchemy import select

from portal.extensions import db
from portal.models import Application, User
from services.document_vocabulary import document_label
from tests.conftest import login
from tests.helpers import submit_committed_case
from tests.services.test_bundle_applications import submitted_bundle

OWNER = "13800000002"


class PageTables(HTMLParser):
    """The page's tables by the <h2> above them: rows of <td> cells, each with its data-label,
    its text, its list items and its links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[dict]]] = {}
        self._heading: str | None = None
        self._current = ""
        self._row: list[dict] | None = None
        self._cell: dict | None = None
        self._li: list[str] | None = None
        self._link: list | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "h2":
            self._heading = ""
        elif tag == "table":
            self.tables[self._current] = []
        elif tag == "tr":
            self._row = []
        elif tag == "td":
            self._cell = {"label": attrs.get("data-label"), "text": "", "items": [], "links": []}
        elif tag == "li" and self._cell is not None:
            self._li = []
        elif tag == "a" and self._cell is not None:
            self._link = [attrs.get("href"), ""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._heading is not None:
            self._current, self._heading = self._heading.strip(), None
        elif tag == "tr" and self._row:
            self.tables[self._current].append(self._row)
        elif tag == "td" and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "li" and self._li is not None:
            self._cell["items"].append("".join(self._li).strip())
            self._li = None
        elif tag == "a" and self._link is not None:
            self._cell["links"].append((self._link[0], self._link[1].strip()))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading += data
        if self._cell is not None:
            self._cell["text"] += data
        if self._li is not None:
            self._li.append(data)
        if self._link is not None:
            self._link[1] += data


def submit_bundle(query) -> int:
    def run() -> int:
        owner = db.session.scalar(select(User).where(User.phone == OWNER))
        parent = submitted_bundle(owner)
        db.session.commit()
        return parent.id

    return query(run)


def sub_cases_in_database(query, parent_id: int):
    """[(id, number, item name)] of the sub-cases, and per material type name the item names it
    serves and the (how, document title) it was provided by, read straight from the rows."""

    def run():
        children = db.session.scalars(
            select(Application).where(Application.parent_id == parent_id).order_by(Application.id)
        ).all()
        types: dict[str, dict[str, set]] = {}
        for child in children:
            for m in child.materials:
                row = types.setdefault(
                    m.requirement.material_type.name, {"items": set(), "ways": set()}
                )
                row["items"].add(child.item_version.name)
                how = document_label("satisfied_by", m.satisfied_by.value)
                row["ways"].add((how, m.document.title if m.document else None))
        return [(c.id, c.number, c.item_version.name) for c in children], types

    return query(run)


def test_the_case_page_lists_the_merged_materials_and_links_every_sub_case(client, query):
    parent_id = submit_bundle(query)
    children, types = sub_cases_in_database(query, parent_id)
    assert len(children) >= 2 and any(len(t["items"]) > 1 for t in types.values())
    login(client, OWNER)

    response = client.get(f"/cases/{parent_id}")
    assert response.status_code == 200
    tables = PageTables(response.get_data(as_text=True)).tables

    rows = {row[0]["text"].strip(): row for row in tables["申请材料"]}
    assert set(rows) == set(types)  # one row per material type, none left out
    for name, expected in types.items():
        material, how, used_for = rows[name]
        assert set(used_for["items"]) == expected["items"], name
        for label, title in expected["ways"]:
            assert (f"{label}：{title}" if title else label) in how["text"], name
    sub_cases = tables["分项办件"]
    assert len(sub_cases) == len(children)
    for (case_id, number, item), (title, linked, _state) in zip(children, sub_cases, strict=True):
        assert title["text"] == item
        assert linked["links"] == [(f"/cases/{case_id}", number)]
        page = client.get(linked["links"][0][0])
        assert page.status_code == 200 and number in page.get_data(as_text=True)
    for row in tables["申请材料"] + sub_cases:
        assert all(cell["label"] for cell in row)  # a card on a phone names every field


def test_one_more_sub_case_costs_no_more_queries(client, query, count_queries):
    parent_id = submit_bundle(query)
    login(client, OWNER)
    client.get(f"/cases/{parent_id}")  # anything cached per process is cached now
    with count_queries as before:
        assert client.get(f"/cases/{parent_id}").status_code == 200

    extra_id = submit_committed_case(query, OWNER)

    def adopt() -> tuple[str, str]:
        extra = db.session.get(Application, extra_id)
        extra.parent_id = parent_id
        db.session.commit()
        return extra.number, extra.item_version.name

    number, item = query(adopt)
    with count_queries as after:
        response = client.get(f"/cases/{parent_id}")
    tables = PageTables(response.get_data(as_text=True)).tables
    assert (f"/cases/{extra_id}", number) in [row[1]["links"][0] for row in tables["分项办件"]]
    assert any(item in row[2]["items"] for row in tables["申请材料"])
    assert len(after) == len(before), sorted((shapes(after) - shapes(before)).elements())


def shapes(statements: list[str]) -> Counter:
    """Statements with their IN lists folded, so that one more query stands out."""
    return Counter(re.sub(r"\(\?(, \?)*\)", "(…)", s) for s in statements)
