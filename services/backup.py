"""Backup and restore of a whole instance: the database and the stored files.

``backup(path)`` writes into a new (or empty) folder:

- ``database.sqlite3`` (SQLite's online backup API: a consistent copy while the portal runs) or
  ``database.pgdump`` (``pg_dump --format=custom``, taken inside an exported snapshot);
- ``files/<key>``: every stored file a row of that copy names (documents, notices, e-licences,
  material types' forms and examples), read through the configured storage backend. Rendered
  guide PDFs are not kept: they are re-made on first use. Files no row names are crash debris
  that ``flask files cleanup`` would remove, and are left out too;
- ``manifest.json`` (written last: a folder without it is not a backup): the format, the
  database's dialect and migration revision, the row count of every table and the size and
  SHA-256 of the database copy and of every file.

Row counts and the list of files come from the same snapshot the copy is made of (the SQLite
copy itself; on PostgreSQL a REPEATABLE READ transaction whose snapshot pg_dump shares), so
the manifest describes exactly what was copied. A file a row names but the store lacks (e.g. a
document deleted while the backup ran) is listed under ``missing_files``.

``restore(path)`` checks every checksum first, refuses an instance that is not empty (any
table in the database or any file in the storage backend), then loads the database
(``pg_restore`` or the SQLite backup API) and puts the files into the configured backend —
which may be another kind than the one backed up (local folder → S3) — and finally compares
the row counts and re-reads every file to check its checksum.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from portal.extensions import db
from services import clock, storage

FORMAT = 1
MANIFEST = "manifest.json"
FILES = "files"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
PG_BIN_DEFAULT = "/usr/lib/postgresql/15/bin"
CHUNK = 1024 * 1024
DEFAULT_WORKERS = 8  # files copied at once (an object store answers each in tens of ms)
T = TypeVar("T")


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why, for the operator."""


@dataclass
class BackupReport:
    path: Path
    dialect: str
    revision: str | None
    tables: dict[str, int]
    files: int
    file_bytes: int
    missing_files: list[str] = field(default_factory=list)


@dataclass
class RestoreReport:
    dialect: str
    revision: str | None
    tables: dict[str, int]
    files: int
    missing_files: list[str] = field(default_factory=list)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_bin(name: str) -> str:
    folder = Path(os.environ.get("PG_BIN") or PG_BIN_DEFAULT)
    candidate = folder / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found (set PG_BIN to PostgreSQL's bin folder)")
    return found


def _pg_env(url: sa.URL) -> dict[str, str]:
    """libpq's environment for ``url`` (the password never appears on a command line)."""
    env = dict(os.environ)
    values = {
        "PGHOST": url.host or url.query.get("host"),
        "PGPORT": url.port or url.query.get("port"),
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    env.update({k: str(v) for k, v in values.items() if v})
    return env


def _table_names(conn: sa.Connection) -> list[str]:
    return sorted(sa.inspect(conn).get_table_names())


def _count_rows(conn: sa.Connection) -> dict[str, int]:
    return {
        name: int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar())
        for name in _table_names(conn)
    }


def _revision(conn: sa.Connection) -> str | None:
    if "alembic_version" not in _table_names(conn):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _named_keys(conn: sa.Connection) -> list[str]:
    """Every storage key a row names, read on ``conn`` (the snapshot being backed up)."""
    keys: set[str] = set()
    for column in storage.KEY_COLUMNS:
        keys |= set(conn.execute(sa.select(column).where(column.is_not(None))).scalars())
    return sorted(keys)


@contextmanager
def _sqlite_snapshot(target: Path) -> Iterator[sa.Connection]:
    """Copy the live SQLite database to ``target`` and yield a connection to the copy."""
    source = db.engine.url.database
    if not source or source == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # a consistent image, also of what still sits in the WAL file
    finally:
        dst.close()
        src.close()
    engine = sa.create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@contextmanager
def _pg_snapshot(target: Path) -> Iterator[sa.Connection]:
    """pg_dump into ``target`` from a snapshot that the yielded connection keeps reading."""
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
            result = subprocess.run(  # nosec B603: fixed program, no shell
                [
                    _pg_bin("pg_dump"),
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={target}",
                ],
                env=_pg_env(db.engine.url),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
            yield conn


def _prepare_folder(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} exists and is not an empty folder; choose a new one")
    path.mkdir(parents=True, exist_ok=True)


def _copy_file(store: storage.Storage, key: str, dest: Path) -> tuple[int, str]:
    """Stream a stored file into ``dest``; its size and sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as fh:
        for chunk in store.open(key).chunks():
            fh.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        fh.flush()
        os.fsync(fh.fileno())
    return size, digest.hexdigest()


def _parallel(fn: Callable[[str], T], keys: list[str], workers: int) -> Iterator[tuple[str, T]]:
    """``fn(key)`` for every key on ``workers`` threads (an object store is latency-bound),
    as (key, result) in the keys' order; the first exception is raised."""
    if workers <= 1:
        for key in keys:
            yield key, fn(key)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield from zip(keys, pool.map(fn, keys), strict=True)


def backup(path: str | os.PathLike, workers: int = DEFAULT_WORKERS) -> BackupReport:
    """Back the instance up into ``path`` (a new or empty folder); see the module's docstring.
    ``workers`` files are copied at once."""
    folder = Path(path)
    _prepare_folder(folder)
    dialect = db.engine.dialect.name
    if dialect == "sqlite":
        db_file, snapshot = folder / SQLITE_FILE, _sqlite_snapshot
    elif dialect == "postgresql":
        db_file, snapshot = folder / PG_FILE, _pg_snapshot
    else:
        raise BackupError(f"cannot back up a {dialect} database")
    files: dict[str, dict[str, object]] = {}
    missing: list[str] = []
    with snapshot(db_file) as conn:
        tables = _count_rows(conn)
        revision = _revision(conn)
        keys = _named_keys(conn)
    # the snapshot is released before the (long) copy of the files: files only ever appear
    # before their rows commit and go after their rows are deleted, so every file a row of the
    # snapshot names is still there unless it was deleted meanwhile (then listed as missing)
    store = storage.backend()

    def copy(key: str) -> tuple[int, str] | None:
        try:
            return _copy_file(store, key, folder / FILES / key)
        except storage.MissingFile:
            (folder / FILES / key).unlink(missing_ok=True)
            return None

    for key, copied in _parallel(copy, keys, workers):
        if copied is None:
            missing.append(key)
        else:
            files[key] = {"size": copied[0], "sha256": copied[1]}
    manifest = {
        "format": FORMAT,
        "created_at": clock.utc_now().isoformat(),
        "database": {
            "dialect": dialect,
            "file": db_file.name,
            "size": db_file.stat().st_size,
            "sha256": _sha256_file(db_file),
            "revision": revision,
        },
        "tables": tables,
        "files": files,
        "missing_files": missing,
    }
    tmp = folder / f"{MANIFEST}.part"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False))
    os.replace(tmp, folder / MANIFEST)
    return BackupReport(
        path=folder,
        dialect=dialect,
        revision=revision,
        tables=tables,
        files=len(files),
        file_bytes=sum(int(f["size"]) for f in files.values()),
        missing_files=missing,
    )


def read_manifest(path: str | os.PathLike) -> dict:
    folder = Path(path)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} holds no {MANIFEST}: not a (complete) backup") from None
    except ValueError as exc:
        raise BackupError(f"{folder / MANIFEST} is not readable: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')!r} is not {FORMAT}")
    return manifest


def verify_backup(path: str | os.PathLike) -> dict:
    """The manifest, after checking the database copy and every file against it."""
    folder = Path(path)
    manifest = read_manifest(folder)
    database = manifest["database"]
    db_file = folder / database["file"]
    if not db_file.is_file() or _sha256_file(db_file) != database["sha256"]:
        raise BackupError(f"{db_file} is missing or does not match its checksum")
    bad = []
    for key, meta in manifest["files"].items():
        storage.check_key(key)
        file = folder / FILES / key
        if (
            not file.is_file()
            or file.stat().st_size != meta["size"]
            or _sha256_file(file) != meta["sha256"]
        ):
            bad.append(key)
    if bad:
        shown = ", ".join(bad[:5]) + (" …" if len(bad) > 5 else "")
        raise BackupError(f"{len(bad)} files of the backup do not match their checksums: {shown}")
    return manifest


def emptiness_problems() -> list[str]:
    """Why the configured instance is not empty (nothing: it may be restored into)."""
    problems = []
    with db.engine.connect() as conn:
        tables = _table_names(conn)
    if tables:
        problems.append(f"the database has {len(tables)} tables")
    if next(iter(storage.backend().list_files()), None) is not None:
        problems.append("the storage backend holds files")
    return problems


def _restore_sqlite(db_file: Path) -> None:
    target = db.engine.url.database
    if not target or target == ":memory:":
        raise BackupError("cannot restore into an in-memory SQLite database")
    db.session.remove()
    db.engine.dispose()
    src = sqlite3.connect(db_file)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _restore_pg(db_file: Path) -> None:
    db.session.remove()
    db.engine.dispose()
    result = subprocess.run(  # nosec B603: fixed program, no shell
        [
            _pg_bin("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={db.engine.url.database}",
            str(db_file),
        ],
        env=_pg_env(db.engine.url),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")


def restore(path: str | os.PathLike, workers: int = DEFAULT_WORKERS) -> RestoreReport:
    """Restore the backup in ``path`` into this empty instance; see the module's docstring.
    ``workers`` files are written (and then checked) at once."""
    folder = Path(path)
    manifest = verify_backup(folder)
    dialect = db.engine.dialect.name
    if manifest["database"]["dialect"] != dialect:
        raise BackupError(
            f"the backup is of a {manifest['database']['dialect']} database; "
            f"this instance uses {dialect}"
        )
    problems = emptiness_problems()
    if problems:
        raise BackupError(
            "restore needs an empty instance (a new database without tables, "
            "before `flask db upgrade`, and an empty storage): " + "; ".join(problems)
        )
    db_file = folder / manifest["database"]["file"]
    if dialect == "sqlite":
        _restore_sqlite(db_file)
    else:
        _restore_pg(db_file)
    store = storage.backend()
    for _ in _parallel(
        lambda key: store.put_final(key, (folder / FILES / key).read_bytes()),
        list(manifest["files"]),
        workers,
    ):
        pass
    # check what is now in place against the manifest
    with db.engine.connect() as conn:
        tables = _count_rows(conn)
        revision = _revision(conn)
    if tables != manifest["tables"]:
        differ = sorted(
            name
            for name in set(tables) | set(manifest["tables"])
            if tables.get(name) != manifest["tables"].get(name)
        )
        raise BackupError(f"row counts differ from the backup's in: {', '.join(differ)}")

    def restored_sha256(key: str) -> str:
        digest = hashlib.sha256()
        for chunk in store.open(key).chunks():
            digest.update(chunk)
        return digest.hexdigest()

    for key, sha in _parallel(restored_sha256, list(manifest["files"]), workers):
        if sha != manifest["files"][key]["sha256"]:
            raise BackupError(f"the restored file {key} does not match its checksum")
    return RestoreReport(
        dialect=dialect,
        revision=revision,
        tables=tables,
        files=len(manifest["files"]),
        missing_files=list(manifest.get("missing_files", [])),
    )
