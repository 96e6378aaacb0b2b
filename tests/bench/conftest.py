"""Fixtures for the benchmarks: a Shanghai-size catalogue on the backend under test."""

from __future__ import annotations

import pytest
from flask import Flask

from portal.extensions import db
from seeds.scale import load_scale
from tests.conftest import make_app

ITEMS, APPLICATIONS = 3600, 2000


@pytest.fixture(scope="module")
def url_map(tmp_path_factory):
    """The routes, from an app that needs no database (so a skip costs nothing)."""
    return make_app("sqlite://", tmp_path_factory.mktemp("routes")).url_map


@pytest.fixture(scope="module")
def scale_app(database_factory) -> Flask:
    app = database_factory("bench", seed=True)
    with app.app_context():
        load_scale(ITEMS, APPLICATIONS)
        db.session.commit()
        db.session.remove()
    return app
