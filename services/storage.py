"""Files on disk under UPLOAD_DIR with server-made names, written atomically.

A file is written to a temporary name, fsynced and renamed into place before the database
commit; a crash between the two leaves at worst a stray file that ``remove_stray_files``
cleans up, never a row pointing at nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

TMP_SUFFIX = ".part"
KEY_RE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}\.[a-z]{3,4}")


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
    return StoredFile(key=f"{shard}/{name}", size=len(data), sha256=hashlib.sha256(data).hexdigest())


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


# the file types the portal accepts, recognised by their first bytes (never by the name)
_SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
SUFFIX_TYPES = {suffix: content_type for _, content_type, suffix in _SIGNATURES}


def sniff_content_type(data: bytes) -> tuple[str, str] | None:
    """(content type, suffix) for a PDF, PNG or JPEG by its magic bytes; None for anything else."""
    for magic, content_type, suffix in _SIGNATURES:
        if data.startswith(magic):
            return content_type, suffix
    return None
