"""`flask backup` and `flask restore` (services/backup.py): a seeded instance with cases, stored
files and audit events, backed up and restored into an empty one (on the backend under test:
SQLite, or PostgreSQL through scripts/pg_pytest.py), also from the local folder into S3."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid

import pytest
import sqlalchemy as sa

from portal.extensions import db
from services import storage, workflow
from services.audit import verify_chain
from tests.conftest import dispose_app, make_app, new_database_url
from tests.workflow_cases import RESIDENCE_PERMIT, submit_case, user


def table_counts(app) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar()
            for name in names
        }


def file_checksums(app) -> dict[str, str]:
    """Every file a row names, by key, with the SHA-256 of what the app's storage returns."""
    with app.app_context():
        keys = set()
        for column in storage.KEY_COLUMNS:
            keys |= set(db.session.scalars(sa.select(column).where(column.is_not(None))))
        result = {key: hashlib.sha256(storage.read(key)).hexdigest() for key in keys}
        db.session.remove()
        return result


def chain(app):
    with app.app_context():
        try:
            return verify_chain()
        finally:
            db.session.remove()


@pytest.fixture(scope="module")
def source(database_factory):
    """The demo instance plus an accepted case: uploads, a stored notice, audit events."""
    app = database_factory("backup-source", seed=True)
    with app.test_request_context():
        case = submit_case("13800000002", RESIDENCE_PERMIT, {"basis": "work", "agent": "no"})
        db.session.commit()
        workflow.perform(user("reviewer01"), case.id, "accept", case.version)
        db.session.commit()
        db.session.remove()
    return app


@pytest.fixture(scope="module")
def backed_up(source, tmp_path_factory):
    folder = tmp_path_factory.mktemp("backup") / "portal-backup"
    result = source.test_cli_runner().invoke(args=["backup", str(folder)])
    assert result.exit_code == 0, result.output
    assert "backup written to" in result.output
    return folder


@pytest.fixture
def empty_instance(tmp_path, request):
    """Make apps on new, empty databases (no tables) and empty storage: ``make("local")`` or
    ``make("s3")`` (a fresh prefix in the test S3 store)."""
    made = []

    def make(kind: str = "local"):
        extra = {}
        if kind == "s3":
            s3 = request.getfixturevalue("s3_store")
            extra = {
                "STORAGE_URL": f"s3://{s3['bucket']}/restore-{uuid.uuid4().hex[:12]}",
                "STORAGE_S3_ENDPOINT_URL": s3["endpoint_url"],
                "STORAGE_S3_ACCESS_KEY": s3["access_key"],
                "STORAGE_S3_SECRET_KEY": s3["secret_key"],
            }
        label = f"restored-{len(made)}"
        app = make_app(new_database_url(tmp_path, label), tmp_path / f"{label}-uploads", **extra)
        made.append(app)
        return app

    yield make
    for app in made:
        dispose_app(app)


def test_the_manifest_describes_the_copy(source, backed_up):
    manifest = json.loads((backed_up / "manifest.json").read_text())
    counts = table_counts(source)
    assert manifest["tables"] == counts
    assert counts["events"] > 0 and counts["documents"] > 0 and counts["notices"] > 0
    assert counts["applications"] > 0
    checksums = file_checksums(source)
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == checksums
    assert manifest["missing_files"] == []
    for key, meta in manifest["files"].items():
        data = (backed_up / "files" / key).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"] and len(data) == meta["size"]


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_restore_into_an_empty_instance_has_every_row_file_and_event(
    kind, source, backed_up, empty_instance
):
    target = empty_instance(kind)
    result = target.test_cli_runner().invoke(args=["restore", str(backed_up)])
    assert result.exit_code == 0, result.output
    assert "audit chain intact" in result.output
    assert table_counts(target) == table_counts(source)
    assert file_checksums(target) == file_checksums(source)
    with target.app_context():
        assert storage.backend().name == kind
    before, after = chain(source), chain(target)
    assert after.broken_at is None and after.checked == before.checked > 0

    # a second restore into the now filled instance is refused and changes nothing
    counts = table_counts(target)
    again = target.test_cli_runner().invoke(args=["restore", str(backed_up)])
    assert again.exit_code == 1
    assert "restore needs an empty instance" in again.output
    assert "tables" in again.output and "storage backend holds files" in again.output
    assert table_counts(target) == counts


def test_a_damaged_backup_is_refused_before_anything_is_written(
    backed_up, empty_instance, tmp_path
):
    copy = tmp_path / "damaged"
    shutil.copytree(backed_up, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    key = sorted(manifest["files"])[0]
    damaged = copy / "files" / key
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"!")
    target = empty_instance("local")
    result = target.test_cli_runner().invoke(args=["restore", str(copy)])
    assert result.exit_code == 1 and "do not match their checksums" in result.output
    assert table_counts(target) == {}
    with target.app_context():
        assert list(storage.backend().list_files()) == []


def test_a_backup_needs_a_new_or_empty_folder(source, backed_up):
    result = source.test_cli_runner().invoke(args=["backup", str(backed_up)])
    assert result.exit_code == 1 and "not an empty folder" in result.output


def test_a_file_missing_from_the_store_makes_the_backup_say_incomplete(database_factory, tmp_path):
    app = database_factory("backup-missing", seed=True)
    with app.app_context():
        key = next(iter(storage.backend().list_files())).key
        storage.backend().delete(key)
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "b")])
    assert result.exit_code == 1 and "INCOMPLETE" in result.output
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["missing_files"] == [key] and key not in manifest["files"]
