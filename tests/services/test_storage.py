"""The storage interface (services/storage.py) on both backends: the local directory and a real
S3 store (SeaweedFS on loopback, tests/servers.py). Every rule is checked on each."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid

import pytest
from sqlalchemy import select

from portal import create_app
from portal.config import ConfigError
from portal.extensions import db
from portal.models import Application, ApplicationMaterial, Document, MaterialType, Notice, User
from services import jobs, storage, workflow
from services.storage_s3 import S3Storage
from tests import files
from tests.conftest import csrf_token, login
from tests.helpers import submit_committed_case
from tests.workflow_cases import user

BACKENDS = ["local", "s3"]


def use_backend(app, monkeypatch, request, tmp_path, kind: str) -> None:
    """Point ``app`` at a fresh store of ``kind`` for this test (a new folder or S3 prefix)."""
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    if kind == "s3":
        s3 = request.getfixturevalue("s3_store")
        settings = {
            "STORAGE_URL": f"s3://{s3['bucket']}/t-{uuid.uuid4().hex[:12]}",
            "STORAGE_S3_ENDPOINT_URL": s3["endpoint_url"],
            "STORAGE_S3_ACCESS_KEY": s3["access_key"],
            "STORAGE_S3_SECRET_KEY": s3["secret_key"],
        }
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, value)


@pytest.fixture(params=BACKENDS)
def store(request, app, tx, monkeypatch, tmp_path):
    """A request context on the shared app whose storage is a fresh local folder or S3 prefix."""
    use_backend(app, monkeypatch, request, tmp_path, request.param)
    with app.test_request_context():
        yield storage.backend()


def objects(store) -> set[str]:
    """Every object or file the backend holds, by its name relative to the store's root."""
    if isinstance(store, S3Storage):
        return {store._rel(o["Key"]) for o in store._list("")}
    return {p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()}


def temporary(store) -> set[str]:
    if isinstance(store, S3Storage):
        return {name for name in objects(store) if name.startswith("tmp/")}
    return {name for name in objects(store) if name.endswith(storage.TMP_SUFFIX)}


def test_the_configured_backend_is_the_one_asked_for(store, request):
    assert store.name == request.node.callspec.params["store"]


def test_the_readiness_check_answers_and_names_a_store_it_cannot_use(
    store, app, tmp_path, monkeypatch
):
    storage.check()  # raises unless usable
    if isinstance(store, S3Storage):
        monkeypatch.setitem(app.config, "STORAGE_URL", "s3://no-such-bucket/x")
    else:
        (tmp_path / "not-a-folder").write_text("")
        monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "not-a-folder"))
    with pytest.raises(Exception):  # noqa: B017 (OSError, botocore's ClientError …)
        storage.check()


def test_a_saved_file_reads_back_before_and_after_the_commit(store):
    data = files.pdf()
    saved = storage.save(data, ".pdf")
    assert saved.size == len(data) and saved.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.read(saved.key) == data  # inside its own transaction already
    db.session.commit()
    assert storage.read(saved.key) == data
    opened = storage.open(saved.key)
    assert opened.size == len(data) and b"".join(opened.chunks()) == data
    assert objects(store) == {saved.key} and not temporary(store)


def test_on_s3_a_file_is_final_only_after_the_commit(store):
    if not isinstance(store, S3Storage):
        pytest.skip("the local backend renames into place before the commit")
    saved = storage.save(b"%PDF-1.4 x", ".pdf")
    assert objects(store) == {f"tmp/{saved.key}"}
    db.session.commit()
    assert objects(store) == {saved.key}


def test_a_rollback_removes_the_new_file(store):
    kept = storage.save(files.png(), ".png")
    db.session.commit()
    gone = storage.save(files.png(), ".png")
    assert storage.exists(gone.key)
    db.session.rollback()
    assert not storage.exists(gone.key) and storage.exists(kept.key)
    assert objects(store) == {kept.key}


def test_a_file_deleted_after_the_commit_stays_until_then_and_after_a_rollback(store):
    saved = storage.save(files.png(), ".png")
    db.session.commit()
    storage.delete_after_commit(saved.key)
    db.session.rollback()  # the deletion did not happen: the file stays
    assert storage.exists(saved.key)
    storage.delete_after_commit(saved.key)
    assert storage.exists(saved.key)  # not before the commit
    db.session.commit()
    assert not storage.exists(saved.key) and objects(store) == set()


def test_a_missing_file_is_missing_not_an_error(store):
    key = storage.save(b"%PDF-1.4 x", ".pdf").key
    db.session.commit()
    store.delete(key)
    with pytest.raises(storage.MissingFile):
        storage.read(key)
    with pytest.raises(storage.MissingFile):
        storage.open("ab/" + "0" * 32 + ".pdf")
    with pytest.raises(ValueError):
        storage.open("../../etc/passwd")
    assert not storage.exists(key)


def test_a_large_file_is_stored_and_streamed_back_whole(store):
    data = os.urandom(20 * 1024 * 1024)  # MAX_UPLOAD_MB
    saved = storage.save(data, ".pdf")
    db.session.commit()
    digest, chunks = hashlib.sha256(), 0
    for chunk in storage.open(saved.key).chunks():
        digest.update(chunk)
        chunks += 1
    assert digest.hexdigest() == saved.sha256 and chunks > 1  # streamed, not read at once


def test_derived_files_are_written_and_read_back(store):
    assert storage.read_derived("guide-abc.pdf") is None
    storage.save_derived("guide-abc.pdf", b"%PDF-1.4 guide")
    assert storage.read_derived("guide-abc.pdf") == b"%PDF-1.4 guide"
    with pytest.raises(ValueError):
        storage.save_derived("../x.pdf", b"")


def _age(store, names: list[str], seconds: int = 7200) -> None:
    """Make local files look old; S3 objects cannot be back-dated, so those tests wait."""
    old = time.time() - seconds
    for name in names:
        os.utime(store.root / name, (old, old))


def test_cleanup_removes_orphans_and_stale_temporary_files_after_the_grace_period(store):
    mt = db.session.scalars(select(MaterialType).order_by(MaterialType.id)).first()
    named = storage.save(files.pdf(), ".pdf")
    mt.blank_form_key = named.key  # a row names it
    orphan = storage.save(files.png(), ".png")  # committed, but no row names it
    db.session.commit()
    if isinstance(store, S3Storage):
        store._put(store.temp_name("cd/" + "1" * 32 + ".png"), b"half")  # a request died
        stray = f"tmp/cd/{'1' * 32}.png"
    else:
        (store.root / "cd").mkdir(exist_ok=True)  # a saved key may begin with "cd" too
        (store.root / "cd" / f"{'1' * 32}.png.part").write_bytes(b"half")
        stray = f"cd/{'1' * 32}.png.part"
        _age(store, [named.key, orphan.key, stray])
    assert objects(store) == {named.key, orphan.key, stray}

    fresh = storage.cleanup(older_than_seconds=3 * 3600)  # everything is within its grace
    assert (fresh.stray, fresh.orphans) == (0, 0)
    assert objects(store) == {named.key, orphan.key, stray}

    time.sleep(1.1)  # S3's Last-Modified counts whole seconds
    report = storage.cleanup(older_than_seconds=0 if isinstance(store, S3Storage) else 3600)
    assert (report.stray, report.orphans) == (1, 1)
    assert objects(store) == {named.key}
    assert storage.read(named.key) == files.pdf()


def test_cleanup_on_s3_makes_final_a_committed_file_whose_copy_a_crash_prevented(store):
    if not isinstance(store, S3Storage):
        pytest.skip("local files are final before the commit")
    mt = db.session.scalars(select(MaterialType).order_by(MaterialType.id)).first()
    key = "ef/" + "2" * 32 + ".pdf"
    store.put_pending(key, b"%PDF-1.4 committed")  # written, committed, then the node died
    mt.example_key = key
    db.session.commit()
    assert objects(store) == {f"tmp/{key}"}
    assert storage.read(key) == b"%PDF-1.4 committed"  # readable meanwhile
    time.sleep(1.1)
    report = storage.cleanup(older_than_seconds=0)
    assert (report.promoted, report.stray) == (1, 0) and objects(store) == {key}


def test_flask_files_cleanup_runs_on_the_configured_backend(store, app):
    orphan = storage.save(files.png(), ".png")
    db.session.commit()
    if not isinstance(store, S3Storage):
        _age(store, [orphan.key])
    time.sleep(1.1)
    older_than = "0" if isinstance(store, S3Storage) else "3600"
    result = app.test_cli_runner().invoke(args=["files", "cleanup", "--older-than", older_than])
    assert result.exit_code == 0, result.output
    assert "1 files no row refers to" in result.output
    assert objects(store) == set()


# --- through the pages ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_citizen_uploads_and_the_reviewer_opens_the_file(
    kind, app, client, query, monkeypatch, request, tmp_path
):
    use_backend(app, monkeypatch, request, tmp_path, kind)
    login(client, "13800000002")
    mt_id = query(
        lambda: db.session.scalar(select(MaterialType.id).where(MaterialType.code == "M002"))
    )
    data = files.png(width=80)
    response = client.post(
        "/documents/upload",
        data={
            "csrf_token": csrf_token(client, "/documents/upload"),
            "material_type": str(mt_id),
            "file": (io.BytesIO(data), "scan.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    doc = query(
        lambda: db.session.scalar(
            select(Document)
            .join(User, User.citizen_id == Document.owner_id)
            .where(User.phone == "13800000002")
            .order_by(Document.id.desc())
        )
    )
    with app.app_context():
        store = storage.backend()
        assert store.name == kind and doc.storage_key in objects(store)
        assert not temporary(store)
    view = client.get(f"/documents/{doc.id}/view")
    assert view.status_code == 200 and view.headers["Cache-Control"] == "private, no-store"
    assert int(view.headers["Content-Length"]) == doc.size
    assert hashlib.sha256(view.get_data()).hexdigest() == doc.sha256

    case_id = submit_committed_case(query)  # its uploads go to the same store
    material_id, key = query(
        lambda: db.session.execute(
            select(Document.id, Document.storage_key)
            .join(User, User.citizen_id == Document.owner_id)
            .where(User.phone == "13800000002")
            .order_by(Document.id.desc())
        ).first()
    )
    material = query(
        lambda: db.session.scalar(
            select(ApplicationMaterial.id).where(
                ApplicationMaterial.application_id == case_id,
                ApplicationMaterial.document_id == material_id,
            )
        )
    )
    reviewer = app.test_client()
    login(reviewer, "reviewer01")
    opened = reviewer.get(f"/review/cases/{case_id}/materials/{material}/file")
    assert opened.status_code == 200 and opened.headers["Cache-Control"] == "private, no-store"
    with app.app_context():
        assert opened.get_data() == storage.read(key)

    def accept():
        case = db.session.get(Application, case_id)
        workflow.perform(user("reviewer01"), case_id, "accept", case.version)
        db.session.commit()
        notice = db.session.scalar(select(Notice).where(Notice.application_id == case_id))
        return notice.id, notice.storage_key, notice.sha256

    notice_id, notice_key, notice_sha = query(accept)  # the 受理通知书, stored in the same store
    with app.app_context():
        assert notice_key in objects(storage.backend())
    pdf = client.get(f"/cases/{case_id}/notices/{notice_id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert hashlib.sha256(pdf.get_data()).hexdigest() == notice_sha

    with app.app_context():
        storage.backend().delete(key)  # the store lost it
    missing = reviewer.get(f"/review/cases/{case_id}/materials/{material}/file")
    assert missing.status_code == 404


@pytest.mark.parametrize("url", ["s3:/bucket", "https://bucket.example/x", "/srv/files", "s3://"])
def test_a_storage_url_that_is_not_s3_stops_the_start(url, tmp_path):
    with pytest.raises(ConfigError, match="STORAGE_URL"):
        create_app({"STORAGE_URL": url, "UPLOAD_DIR": str(tmp_path), "SECRET_KEY": "x" * 40})


def test_with_s3_configured_the_start_makes_no_local_folder(tmp_path):
    unused = tmp_path / "uploads"
    create_app({"STORAGE_URL": "s3://b/p", "UPLOAD_DIR": str(unused), "SECRET_KEY": "x" * 40})
    assert not unused.exists()
    create_app({"UPLOAD_DIR": str(unused), "SECRET_KEY": "x" * 40})
    assert unused.is_dir()


def test_the_scheduled_jobs_clean_up_once_an_hour(app, tx, monkeypatch, tmp_path):
    """`flask jobs run` (cron or Celery beat, every minute) runs the cleanup once an hour,
    on whichever machine claims it first."""
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    with app.test_request_context():
        store = storage.backend()
        first = storage.save(files.png(), ".png")  # committed, but no row names it
        db.session.commit()
        _age(store, [first.key])
        assert jobs.run_jobs().files_removed == 1
        assert not storage.exists(first.key)
        second = storage.save(files.png(), ".png")
        db.session.commit()
        _age(store, [second.key])
        assert jobs.run_jobs().files_removed == 0  # this hour's cleanup has run
        assert storage.exists(second.key)
