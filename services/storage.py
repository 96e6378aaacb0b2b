"""Files on disk under UPLOAD_DIR with server-made names, written atomically.

A file is written to a temporary name, fsynced and renamed into place before the database
commit; a crash between the two leaves at worst a stray file that ``remove_stray_files``
cleans up, never a row pointing at nothing.

Files are tied to the database transaction that refers to them: a file written for a row
(``track_new_file``) is removed again if that transaction does not commit, and a file whose
row is deleted (``delete_after_commit``) is removed only once the deletion has committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

TMP_SUFFIX = ".part"
KEY_RE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}\.[a-z]{3,4}")
SHARD_RE = re.compile(r"[0-9a-f]{2}")
_NEW = "storage_new_files"
_DOOMED = "storage_files_to_delete"


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


def _root(upload_dir: str | os.PathLike) -> Path:
    root = Path(upload_dir)
    root.mkdir(parents=True, exist_ok=True)
    return root


def path_for(upload_dir: str | os.PathLike, key: str) -> Path:
    """The path of a stored key; refuses anything that is not a key this module made."""
    if not KEY_RE.fullmatch(key or ""):
        raise ValueError("bad storage key")
    return _root(upload_dir) / key


def save_bytes(upload_dir: str | os.PathLike, data: bytes, suffix: str) -> StoredFile:
    """Write ``data`` under a new random name: tmp file, fsync, rename, fsync the folder."""
    root = _root(upload_dir)
    shard = secrets.token_hex(1)
    folder = root / shard
    folder.mkdir(exist_ok=True)
    name = f"{secrets.token_hex(16)}{suffix}"
    final = folder / name
    tmp = folder / f"{name}{TMP_SUFFIX}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return StoredFile(
        key=f"{shard}/{name}", size=len(data), sha256=hashlib.sha256(data).hexdigest()
    )


DERIVED = "rendered"  # files made from other data, re-made when missing (not in any row)
DERIVED_NAME_RE = re.compile(r"[a-z0-9-]{1,100}\.[a-z]{3,4}")


def _derived_path(upload_dir: str | os.PathLike, name: str) -> Path:
    if not DERIVED_NAME_RE.fullmatch(name):
        raise ValueError(f"not a derived file name: {name!r}")
    return _root(upload_dir) / DERIVED / name


def read_derived(upload_dir: str | os.PathLike, name: str) -> bytes | None:
    """A derived file's bytes, or None when it has not been made (or was cleaned up)."""
    path = _derived_path(upload_dir, name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept by remove_unused_derived
    return data


def save_derived(upload_dir: str | os.PathLike, name: str, data: bytes) -> None:
    """Write a derived file atomically; two processes making the same one at once both write
    the same bytes, and the last rename wins."""
    path = _derived_path(upload_dir, name)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f"{name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def remove_unused_derived(upload_dir: str | os.PathLike, older_than_days: int = 30) -> int:
    """Remove derived files nobody has read for ``older_than_days`` (old versions' PDFs)."""
    folder = _root(upload_dir) / DERIVED
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_days * 86400
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def delete(upload_dir: str | os.PathLike, key: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        path_for(upload_dir, key).unlink()


def remove_stray_files(upload_dir: str | os.PathLike, older_than_seconds: int = 3600) -> int:
    """Remove temporary files left by a crash mid-write; returns how many were removed."""
    removed = 0
    cutoff = time.time() - older_than_seconds
    for tmp in _root(upload_dir).glob(f"*/*{TMP_SUFFIX}"):
        if tmp.stat().st_mtime < cutoff:
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_orphan_files(
    upload_dir: str | os.PathLike,
    known_keys: Callable[[Iterable[str]], set[str]],
    older_than_seconds: int = 3600,
) -> int:
    """Remove stored files that no database row names (a crash after the rename, before the
    commit). ``known_keys(keys)`` answers which of ``keys`` the database refers to; it is asked
    at most 500 keys at a time."""
    removed = 0
    cutoff = time.time() - older_than_seconds
    for folder in sorted(
        p for p in _root(upload_dir).iterdir() if p.is_dir() and SHARD_RE.fullmatch(p.name)
    ):
        candidates = {
            f"{folder.name}/{f.name}": f
            for f in folder.iterdir()
            if f.is_file()
            and KEY_RE.fullmatch(f"{folder.name}/{f.name}")
            and f.stat().st_mtime < cutoff
        }
        keys = sorted(candidates)
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            for key in set(batch) - known_keys(batch):
                candidates[key].unlink(missing_ok=True)
                removed += 1
    return removed


def track_new_file(session: Session, upload_dir: str | os.PathLike, key: str) -> None:
    """Remove the file ``key`` again unless ``session``'s current transaction commits."""
    session.info.setdefault(_NEW, []).append((str(upload_dir), key))


def delete_after_commit(session: Session, upload_dir: str | os.PathLike, key: str) -> None:
    """Remove the file ``key`` once ``session``'s current transaction has committed."""
    session.info.setdefault(_DOOMED, []).append((str(upload_dir), key))


@event.listens_for(Session, "after_commit")
def _files_after_commit(session: Session) -> None:
    session.info.pop(_NEW, None)  # their rows are committed: the files stay
    for upload_dir, key in session.info.pop(_DOOMED, []):
        delete(upload_dir, key)


@event.listens_for(Session, "after_transaction_end")
def _files_after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is not None:
        return
    # the outermost transaction ended without a commit (rollback, close, failed commit)
    for upload_dir, key in session.info.pop(_NEW, []):
        delete(upload_dir, key)
    session.info.pop(_DOOMED, None)
