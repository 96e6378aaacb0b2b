"""A guide's PDFs (办事指南, 材料清单) are rendered once per published content and then served
from storage with an ETag: asking again renders nothing (not even the HTML), a browser that has
the file gets a 304, and an edit that shows in the document gives a new one."""

from __future__ import annotations

import pytest
from flask import template_rendered
from sqlalchemy import select

from portal.extensions import db
from portal.models import Department, User
from services import pdf as pdf_service
from services.catalogue.departments import update_department


@pytest.fixture
def renders(app, monkeypatch):
    """Counts: HTML of the PDF templates rendered, and PDFs made by WeasyPrint."""
    counts = {"html": 0, "pdf": 0}
    write = pdf_service._write_pdf

    def counting_write(html: str) -> bytes:
        counts["pdf"] += 1
        return write(html)

    def on_render(sender, template, context, **extra):
        if (template.name or "").startswith("pdf/"):
            counts["html"] += 1

    monkeypatch.setattr(pdf_service, "_write_pdf", counting_write)
    template_rendered.connect(on_render, app)
    yield counts
    template_rendered.disconnect(on_render, app)


@pytest.mark.parametrize("which", ["guide", "checklist"])
def test_a_pdf_asked_for_again_costs_no_rendering(client, renders, which):
    path = f"/items/330100GA0001/{which}.pdf"
    first = client.get(path)
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    assert renders["pdf"] <= 1 and renders["html"] == 1  # at most once: it may be stored already
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache"
    renders.update(html=0, pdf=0)
    again = client.get(path)
    assert again.status_code == 200 and again.data == first.data
    assert again.headers["ETag"] == etag
    revisit = client.get(path, headers={"If-None-Match": etag})
    assert revisit.status_code == 304 and revisit.data == b""
    other_reader = client.application.test_client().get(path, headers={"If-None-Match": etag})
    assert other_reader.status_code == 304  # the same document for everyone
    assert renders == {"html": 0, "pdf": 0}


def test_an_edit_that_shows_in_the_pdf_makes_a_new_one(client, renders, query):
    first = client.get("/items/330100GA0001/guide.pdf")

    def rename():
        dept = db.session.scalar(select(Department).where(Department.code == "GA"))
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        update_department(
            dept,
            name="市公安局（PDF 新名）",
            phone=dept.phone,
            address=dept.address,
            hours=dept.hours,
            actor=admin,
        )
        db.session.commit()

    query(rename)
    renders.update(html=0, pdf=0)
    changed = client.get(
        "/items/330100GA0001/guide.pdf", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert renders == {"html": 1, "pdf": 1}


def test_an_unknown_item_has_no_pdf(client, renders):
    assert client.get("/items/NOPE/guide.pdf").status_code == 404
    assert client.get("/items/" + "X" * 200 + "/checklist.pdf").status_code == 404
    assert renders == {"html": 0, "pdf": 0}
