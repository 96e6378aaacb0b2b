"""Themes (主题分类) that group items for citizens browsing the catalogue."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import Theme


def get_or_create_theme(name: str, audience: str = "person", position: int = 0) -> Theme:
    theme = db.session.scalar(select(Theme).where(Theme.name == name))
    if theme is None:
        theme = Theme(name=name, audience=audience, position=position)
        db.session.add(theme)
        db.session.flush()
    return theme


def list_themes() -> list[Theme]:
    return list(db.session.scalars(select(Theme).order_by(Theme.position, Theme.id)))
