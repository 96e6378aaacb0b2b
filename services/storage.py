"""Stored files — uploads, notices, e-licences, a material type's blank form and example, and
rendered guide PDFs — behind one interface with two backends, chosen by ``STORAGE_URL``:

- empty (the embedded default): the local directory ``UPLOAD_DIR`` (``LocalStorage`` here);
- ``s3://bucket/prefix``: any S3-compatible store (``S3Storage`` in services/storage_s3.py;
  endpoint and keys from ``STORAGE_S3_*`` or boto3's usual ``AWS_*`` variables).

Public API (inside an app context; the backend comes from ``current_app``'s config)::

    stored = storage.save(data, suffix)   # -> StoredFile(key, size, sha256); tied to db.session:
                                          #    removed again if the transaction does not commit,
                                          #    made final once it has committed
    storage.open(key)                     # -> StoredObject(.size, .chunks(), .read()); streamed
    storage.read(key)                     # -> bytes
    storage.exists(key)                   # -> bool
    storage.delete_after_commit(key)      # the row naming ``key`` is being deleted: the file goes
                                          #    once that deletion has committed
    storage.read_derived(name)            # rendered guide PDFs (no row names them; re-made when
    storage.save_derived(name, data)      #    missing): bytes or None / write
    storage.cleanup(older_than_seconds)   # -> CleanupReport: `flask files cleanup`
    storage.check()                       # raises unless the backend answers (/readyz)
    storage.backend()                     # the configured Storage (backup/restore, tests)

``open`` and ``read`` raise ``MissingFile`` (a ``FileNotFoundError``) for a key that is not
stored, and ``ValueError`` for a string this module never made as a key.

How a file becomes final:

- local: written to ``<key>.part``, fsynced and renamed into place before the commit; a
  rollback removes it. A crash between leaves a stray ``.part`` file or a file no row names,
  both removed by ``cleanup`` after the grace period.
- S3: put under ``<prefix>/tmp/<key>`` before the commit, copied to ``<prefix>/<key>`` after
  it and the temporary object deleted; a rollback deletes the temporary object. Reading a key
  whose final object is missing falls back to its temporary object (the row is in this very
  transaction, or a crash came between the commit and the copy), and ``cleanup`` promotes a
  temporary object a row names and deletes one no row names.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import Document, MaterialType, Notice
from services.storage_core import (
    KEY_RE,
    TMP_SUFFIX,
    CleanupReport,
    FileInfo,
    LocalStorage,
    MissingFile,
    Storage,
    StoredFile,
    StoredObject,
    check_key,
    new_key,
    path_for,
)
from services.storage_s3 import S3Storage

__all__ = [
    "KEY_COLUMNS",
    "KEY_RE",
    "TMP_SUFFIX",
    "CleanupReport",
    "FileInfo",
    "LocalStorage",
    "MissingFile",
    "S3Storage",
    "Storage",
    "StoredFile",
    "StoredObject",
    "backend",
    "check",
    "check_key",
    "cleanup",
    "delete_after_commit",
    "exists",
    "known_keys",
    "make_backend",
    "open",
    "path_for",
    "read",
    "read_derived",
    "save",
    "save_derived",
]

log = logging.getLogger(__name__)
_NEW = "storage_new_files"
_DOOMED = "storage_files_to_delete"
_EXTENSION = "portal_storage"
STORAGE_SETTINGS = (
    "STORAGE_URL",
    "STORAGE_S3_ENDPOINT_URL",
    "STORAGE_S3_REGION",
    "STORAGE_S3_ACCESS_KEY",
    "STORAGE_S3_SECRET_KEY",
    "STORAGE_S3_CONNECT_TIMEOUT",
    "STORAGE_S3_READ_TIMEOUT",
    "STORAGE_S3_MAX_ATTEMPTS",
)


# --- the configured backend and the transaction -----------------------------------------


def make_backend(config) -> Storage:
    """The backend ``config`` (a Flask config or a dict) describes."""
    url = str(config.get("STORAGE_URL") or "").strip()
    if not url:
        return LocalStorage(config["UPLOAD_DIR"])
    if url.startswith("s3://"):
        return S3Storage.from_config(url, config)
    raise ValueError(f"STORAGE_URL must be empty or s3://bucket/prefix, not {url!r}")


def backend() -> Storage:
    """The app's configured backend (made once per app and configuration)."""
    config = current_app.config
    ident = (config["UPLOAD_DIR"], *(config.get(k) for k in STORAGE_SETTINGS))
    made = current_app.extensions.get(_EXTENSION)
    if made is None or made[0] != ident:
        made = (ident, make_backend(config))
        current_app.extensions[_EXTENSION] = made
    return made[1]


def save(data: bytes, suffix: str, session: Session | None = None) -> StoredFile:
    """Store ``data`` under a new key, removed again unless ``session``'s (db.session's)
    current transaction commits and made final once it has."""
    store = backend()
    key = new_key(suffix)
    session = session or db.session()
    if not session.in_transaction():
        session.begin()  # the file belongs to this transaction, even before any SQL is sent
    session.info.setdefault(_NEW, []).append((store, key))
    store.put_pending(key, data)
    return StoredFile(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def open(key: str) -> StoredObject:  # noqa: A001 (storage.open reads naturally)
    return backend().open(check_key(key))


def read(key: str) -> bytes:
    return open(key).read()


def exists(key: str) -> bool:
    return backend().exists(check_key(key))


def delete_after_commit(key: str, session: Session | None = None) -> None:
    """Remove the file ``key`` once ``session``'s (db.session's) transaction has committed."""
    session = session or db.session()
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_DOOMED, []).append((backend(), check_key(key)))


def check() -> None:
    """Raise unless the configured backend answers: the local folder is writable, or the S3
    bucket answers (a readiness check)."""
    backend().check()


def read_derived(name: str) -> bytes | None:
    """A derived file's bytes, or None when it has not been made (or was cleaned up)."""
    return backend().read_derived(name)


def save_derived(name: str, data: bytes) -> None:
    """Write a derived file (atomically: a reader sees the old bytes, the new ones or none)."""
    backend().save_derived(name, data)


# every column that names a stored file (an e-licence's PDF is a Document)
KEY_COLUMNS = (
    Document.storage_key,
    Notice.storage_key,
    MaterialType.blank_form_key,
    MaterialType.example_key,
)


def known_keys(keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` a row names: documents, notices, material types' forms and examples."""
    keys = list(keys)
    found: set[str] = set()
    for column in KEY_COLUMNS:
        found |= set(db.session.scalars(select(column).where(column.in_(keys))))
    return found


def cleanup(older_than_seconds: int = 3600) -> CleanupReport:
    """Remove what crashes left in the configured backend: temporary files and objects and
    files no row names, older than the grace period; and rendered PDFs unread for 30 days."""
    return backend().cleanup(known_keys, older_than_seconds)


@event.listens_for(Session, "after_commit")
def _files_after_commit(session: Session) -> None:
    for store, key in session.info.pop(_NEW, []):  # their rows are committed: the files stay
        try:
            store.finalise(key)
        except Exception:  # the commit stands; cleanup promotes the temporary object later
            log.exception("could not make stored file %s final", key)
    for store, key in session.info.pop(_DOOMED, []):
        try:
            store.delete(key)
        except Exception:  # an orphan now: cleanup removes it later
            log.exception("could not delete stored file %s", key)


@event.listens_for(Session, "after_transaction_end")
def _files_after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    # the outermost transaction ended without a commit (rollback, close, failed commit)
    for store, key in session.info.pop(_NEW, []):
        try:
            store.discard(key)
        except Exception:  # a stale temporary file: cleanup removes it later
            log.exception("could not remove stored file %s", key)
    session.info.pop(_DOOMED, None)
