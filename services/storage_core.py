"""The storage backends' common part and the local directory backend (services/storage.py is
the interface callers use; services/storage_s3.py the S3-compatible backend)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

TMP_SUFFIX = ".part"
KEY_RE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{32}\.[a-z]{3,4}")
SHARD_RE = re.compile(r"[0-9a-f]{2}")
DERIVED = "rendered"  # files made from other data, re-made when missing (not in any row)
DERIVED_NAME_RE = re.compile(r"[a-z0-9-]{1,100}\.[a-z]{3,4}")
CHUNK = 64 * 1024


class MissingFile(FileNotFoundError):
    """No stored file under this key."""


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class FileInfo:
    """A stored file as a listing sees it: its key, size and last write (epoch seconds)."""

    key: str
    size: int
    modified: float


@dataclass(frozen=True)
class CleanupReport:
    stray: int  # temporary files or objects removed (a write or a request that never committed)
    orphans: int  # final files no row names
    derived: int  # rendered PDFs unused for 30 days
    promoted: int = 0  # temporary objects a committed row names, made final (S3)

    def __str__(self) -> str:
        text = (
            f"removed {self.stray} stray temporary files, {self.orphans} files no row refers to "
            f"and {self.derived} rendered PDFs unread for 30 days"
        )
        if self.promoted:
            text += f"; made {self.promoted} committed files final"
        return text


class StoredObject:
    """A stored file opened for reading: ``size`` now, the bytes when ``chunks()`` is iterated
    (the underlying file or HTTP body is closed when the iteration ends or is abandoned)."""

    def __init__(self, size: int, opener: Callable[[], Iterator[bytes]]) -> None:
        self.size = size
        self._opener = opener

    def chunks(self) -> Iterator[bytes]:
        return self._opener()

    def read(self) -> bytes:
        return b"".join(self.chunks())


def check_key(key: str | None) -> str:
    if not KEY_RE.fullmatch(key or ""):
        raise ValueError("bad storage key")
    return key  # type: ignore[return-value]


def check_derived_name(name: str) -> str:
    if not DERIVED_NAME_RE.fullmatch(name or ""):
        raise ValueError(f"not a derived file name: {name!r}")
    return name


def new_key(suffix: str) -> str:
    return check_key(f"{secrets.token_hex(1)}/{secrets.token_hex(16)}{suffix}")


class Storage:
    """What every backend does. ``key`` is always a string ``check_key`` accepts."""

    name = "storage"

    def put_pending(self, key: str, data: bytes) -> None:
        """Write a new file that ``open`` can read but that is final only after ``finalise``."""
        raise NotImplementedError

    def finalise(self, key: str) -> None:
        """The row naming ``key`` has committed: make the file final."""
        raise NotImplementedError

    def discard(self, key: str) -> None:
        """The transaction that wrote ``key`` did not commit: remove every trace of it."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def open(self, key: str) -> StoredObject:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        try:
            self.open(key)
        except MissingFile:
            return False
        return True

    def put_final(self, key: str, data: bytes) -> None:
        """Write a file straight to its final place (restore from a backup)."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise unless the backend can be used (readiness checks)."""
        raise NotImplementedError

    def list_files(self) -> Iterator[FileInfo]:
        """Every final file (not temporary ones, not derived ones)."""
        raise NotImplementedError

    def remove_stale_temporary(
        self, known: Callable[[Iterable[str]], set[str]], older_than_seconds: int
    ) -> tuple[int, int]:
        """Remove temporary files older than the grace period; returns (removed, promoted)."""
        raise NotImplementedError

    def read_derived(self, name: str) -> bytes | None:
        raise NotImplementedError

    def save_derived(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def remove_unused_derived(self, older_than_days: int = 30) -> int:
        raise NotImplementedError

    def remove_orphans(
        self, known: Callable[[Iterable[str]], set[str]], older_than_seconds: int
    ) -> int:
        """Remove final files older than the grace period that no row names (a crash after the
        write, before the commit). ``known`` is asked at most 500 keys at a time."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        batch: list[str] = []

        def flush() -> int:
            gone = 0
            for key in set(batch) - known(batch):
                self.delete(key)
                gone += 1
            batch.clear()
            return gone

        for info in self.list_files():
            if info.modified < cutoff:
                batch.append(info.key)
                if len(batch) >= 500:
                    removed += flush()
        if batch:
            removed += flush()
        return removed

    def cleanup(
        self, known: Callable[[Iterable[str]], set[str]], older_than_seconds: int = 3600
    ) -> CleanupReport:
        stray, promoted = self.remove_stale_temporary(known, older_than_seconds)
        orphans = self.remove_orphans(known, older_than_seconds)
        return CleanupReport(
            stray=stray,
            orphans=orphans,
            derived=self.remove_unused_derived(),
            promoted=promoted,
        )


# --- the local directory ----------------------------------------------------------------


def _root(upload_dir: str | os.PathLike) -> Path:
    root = Path(upload_dir)
    root.mkdir(parents=True, exist_ok=True)
    return root


def path_for(upload_dir: str | os.PathLike, key: str) -> Path:
    """The local path of a stored key (local backend only; tests look at files this way)."""
    return _root(upload_dir) / check_key(key)


def _fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_atomically(path: Path, data: bytes, tmp: Path) -> None:
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


class LocalStorage(Storage):
    """Files under ``root`` with server-made names: ``<shard>/<32 hex>.<suffix>``."""

    name = "local"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return path_for(self.root, key)

    def put_pending(self, key: str, data: bytes) -> None:
        # final at once (tmp file, fsync, rename, fsync the folder); a rollback removes it
        self.put_final(key, data)

    def put_final(self, key: str, data: bytes) -> None:
        path = self.path(key)
        path.parent.mkdir(exist_ok=True)
        _write_atomically(path, data, path.with_name(path.name + TMP_SUFFIX))

    def finalise(self, key: str) -> None:
        return None

    def check(self) -> None:
        _root(self.root)  # made if missing, as at start-up; raises if it cannot be
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"{self.root} is not a writable folder")

    def discard(self, key: str) -> None:
        self.delete(key)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def open(self, key: str) -> StoredObject:
        path = self.path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise MissingFile(key) from None
        if not path.is_file():
            raise MissingFile(key)
        return StoredObject(size, lambda: _file_chunks(path))

    def list_files(self) -> Iterator[FileInfo]:
        for folder in sorted(
            p for p in _root(self.root).iterdir() if p.is_dir() and SHARD_RE.fullmatch(p.name)
        ):
            for f in sorted(folder.iterdir()):
                key = f"{folder.name}/{f.name}"
                if KEY_RE.fullmatch(key) and f.is_file():
                    st = f.stat()
                    yield FileInfo(key, st.st_size, st.st_mtime)

    def remove_stale_temporary(
        self, known: Callable[[Iterable[str]], set[str]], older_than_seconds: int
    ) -> tuple[int, int]:
        removed = 0
        cutoff = time.time() - older_than_seconds
        for tmp in _root(self.root).glob(f"*/*{TMP_SUFFIX}"):
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink(missing_ok=True)
                removed += 1
        return removed, 0

    def _derived_path(self, name: str) -> Path:
        return _root(self.root) / DERIVED / check_derived_name(name)

    def read_derived(self, name: str) -> bytes | None:
        path = self._derived_path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: kept by remove_unused_derived
        return data

    def save_derived(self, name: str, data: bytes) -> None:
        # two processes making the same one at once both write the same bytes; the last wins
        path = self._derived_path(name)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f"{name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def remove_unused_derived(self, older_than_days: int = 30) -> int:
        folder = _root(self.root) / DERIVED
        if not folder.is_dir():
            return 0
        cutoff = time.time() - older_than_days * 86400
        removed = 0
        for path in folder.iterdir():
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
