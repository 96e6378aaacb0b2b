"""A worker's app is set aside from the cyclic garbage collector once built (portal/__init__.py):
a full collection then walks what requests made, not the whole portal (it took 157 ms of CPU
once every few hundred requests, the logged-in pages' p99). Test apps are not frozen: the suite
builds many and drops them."""

from __future__ import annotations

import gc

from portal import create_app
from tests.conftest import TEST_SECRET


def test_an_app_built_to_serve_freezes_what_it_holds(tmp_path):
    gc.unfreeze()
    try:
        create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'gc.db'}",
                "SECRET_KEY": TEST_SECRET,
                "UPLOAD_DIR": str(tmp_path / "uploads"),
            }
        )
        assert gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()


def test_a_test_app_is_not_frozen(tmp_path):
    gc.unfreeze()
    create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'gc.db'}",
            "SECRET_KEY": TEST_SECRET,
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "TESTING": True,
        }
    )
    assert gc.get_freeze_count() == 0
