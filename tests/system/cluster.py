"""Portal nodes as a city runs them: gunicorn processes on loopback ports sharing one database
(and, when given, one Redis and one S3 store), and an HTTP client that speaks the Flask test
client's small API (``get``/``post`` returning ``status_code``, ``headers``, ``get_data``) so the
route tests' helpers (``csrf_token``, ``login``, ``start`` …) drive real servers unchanged.

``RoundRobin`` sends each request to the next node in turn: one session cookie, every step on a
different machine than the one before.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import select

from portal.config import DEFAULTS
from portal.extensions import db
from portal.models import ELicence
from services import storage
from tests.conftest import TEST_SECRET, dispose_app, make_app
from tests.servers import free_port, storage_environment

BIN = Path(sys.executable).parent
S3_READY = "STORAGE_URL" in DEFAULTS  # the object-storage backend exists in this version
START_TIMEOUT = 180.0  # a loaded 2-core machine boots four WeasyPrint-importing workers slowly


@dataclass
class Node:
    name: str
    base: str
    process: subprocess.Popen
    log: Path

    def worker_pids(self, min_age: int = 0) -> list[int]:
        """The pids of this node's gunicorn workers (children of the arbiter) that have run for
        at least ``min_age`` seconds (a worker still booting serves nothing yet)."""
        out = subprocess.run(
            ["ps", "-o", "pid=,etimes=", "--ppid", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        rows = [line.split() for line in out.splitlines() if line.strip()]
        return [int(pid) for pid, age in rows if int(age) >= min_age]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _wait_until_up(node: Node) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if node.process.poll() is not None:
            raise RuntimeError(f"{node.name} exited:\n{node.log_text()[-3000:]}")
        try:
            if requests.get(node.base + "/", timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{node.name} did not answer:\n{node.log_text()[-3000:]}")
        time.sleep(0.2)


def _stop(processes: list[subprocess.Popen], grace: float = 10.0) -> None:
    """Stop every node at once (quick shutdown: nothing is left to finish), then wait."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)
    for process in processes:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def portal_nodes(
    env: dict[str, str], count: int = 2, workers: int = 2, log_dir: Path | None = None
) -> Iterator[list[Node]]:
    """Start ``count`` gunicorn nodes of the portal with ``env`` added to this environment
    (DATABASE_URL, SECRET_KEY, UPLOAD_DIR … each node may get its own UPLOAD_DIR through
    ``env[f"NODE{i}_UPLOAD_DIR"]``); stop them all afterwards, also on failure."""
    # PORTAL_TEST_NODE_LOGS keeps the nodes' logs where pytest's rotation of tmp_path won't reach
    kept = os.environ.get("PORTAL_TEST_NODE_LOGS")
    log_dir = Path(kept) if kept else (log_dir or Path(os.environ.get("TMPDIR", "/tmp")))
    log_dir.mkdir(parents=True, exist_ok=True)
    nodes: list[Node] = []
    processes: list[subprocess.Popen] = []
    with ExitStack() as stack:
        stack.callback(_stop, processes)
        for i in range(count):
            port = free_port()
            node_env = {**os.environ, **env}
            if f"NODE{i}_UPLOAD_DIR" in env:
                node_env["UPLOAD_DIR"] = env[f"NODE{i}_UPLOAD_DIR"]
            log = log_dir / f"node{i}-{port}.log"
            with open(log, "wb") as log_file:
                process = subprocess.Popen(  # nosec B603
                    [
                        str(BIN / "gunicorn"),
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        str(workers),
                        "--timeout",
                        "60",
                        "--graceful-timeout",
                        "5",
                        "--no-control-socket",  # nodes on one machine would share its path
                        "--access-logfile",
                        "-",
                        "portal:create_app()",
                    ],
                    env=node_env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=Path(__file__).resolve().parents[2],
                )
            processes.append(process)
            nodes.append(Node(f"node{i}", f"http://127.0.0.1:{port}", process, log))
        for node in nodes:
            _wait_until_up(node)
        yield nodes


@contextmanager
def celery_worker(env: dict[str, str], log_dir: Path, name: str = "worker") -> Iterator[Path]:
    """A real Celery worker (portal/worker.py) on the cluster's broker; yields its log path."""
    log = log_dir / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(  # nosec B603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal.worker",
                "worker",
                "--pool=solo",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                "portal",
                "-n",
                f"{name}@127.0.0.1",
                "--loglevel=INFO",
            ],
            env={**os.environ, "LOG_FORMAT": "text", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    try:
        yield log
    finally:
        _stop([process], grace=15)


class Response:
    """The parts of a Flask test response the route tests' helpers use."""

    def __init__(self, response: requests.Response, node: str) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.data = response.content
        self.node = node
        self.url = response.url

    def get_data(self, as_text: bool = False):
        return self.data.decode("utf-8") if as_text else self.data


@dataclass
class RoundRobin:
    """One browser session whose requests go to the nodes in turn."""

    nodes: list[Node]
    session: requests.Session = field(default_factory=requests.Session)
    turn: int = 0
    log: list[tuple[str, str, str, int, float]] = field(default_factory=list)

    def _next(self) -> Node:
        node = self.nodes[self.turn % len(self.nodes)]
        self.turn += 1
        return node

    def _send(self, method: str, path: str, **kw) -> Response:
        node = self._next()
        began = time.monotonic()
        response = self.session.request(
            method, node.base + path, allow_redirects=False, timeout=60, **kw
        )
        self.log.append(
            (node.name, method, path, response.status_code, round(time.monotonic() - began, 3))
        )
        return Response(response, node.name)

    def get(self, path: str, **kw) -> Response:
        kw.pop("follow_redirects", None)
        return self._send("GET", path, **kw)

    def post(self, path: str, data: dict | None = None, **kw) -> Response:
        """``data`` as the Flask test client takes it: a value ``(stream, filename)`` is a file."""
        kw.pop("follow_redirects", None)
        kw.pop("content_type", None)
        fields: dict[str, str] = {}
        files: dict[str, tuple] = {}
        for key, value in (data or {}).items():
            if isinstance(value, tuple):
                stream, filename = value[0], value[1]
                body = stream.read() if isinstance(stream, io.IOBase) else stream
                files[key] = (filename, body)
            else:
                fields[key] = value
        return self._send("POST", path, data=fields, files=files or None, **kw)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" (?:type="hidden" )?value="([^"]*)"', html)
    if not match:
        match = re.search(rf'type="hidden" name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return match.group(1)


def storage_env(store: dict | None, prefix: str = "files") -> dict[str, str]:
    """The storage settings of a cluster: its own prefix of the S3 store, or none (local)."""
    return storage_environment(store, prefix) if store else {}


def stored_keys(app) -> set[str]:
    """Every file key in the app's storage (local directory or S3 bucket); app context."""
    return {info.key for info in storage.backend().list_files()}


def copy_files_into(app, source_dir: Path) -> int:
    """Put the files a seeded template keeps on disk into ``app``'s store (a city moving its
    files to S3 does the same with ``flask backup`` / ``flask restore``)."""
    local = storage.LocalStorage(source_dir)
    target = storage.backend()
    copied = 0
    for info in local.list_files():
        target.put_final(info.key, local.open(info.key).read())
        copied += 1
    return copied


def licence_number_from(url, uploads, settings, case_id) -> str:
    app = checker(url, uploads, settings)
    try:
        with app.app_context():
            return db.session.scalar(
                select(ELicence.number).where(ELicence.application_id == case_id)
            )
    finally:
        dispose_app(app)


def checker(url: str, uploads: Path, settings: dict[str, str]):
    """An app bound to the cluster's database and store (``settings`` from ``storage_env``)."""
    return make_app(url, uploads, **settings)


def shared_environment(
    database_templates, name: str, redis_url: str, store: dict | None, **extra: str
) -> tuple[str, Path, dict[str, str], dict[str, str]]:
    """What a cluster's nodes share: a seeded copy of the test database, Redis, and with a
    ``store`` a fresh prefix of it holding the seed's files. Returns the database URL, the
    seed's upload directory, the nodes' environment (``extra`` added) and the storage
    settings (empty without a store)."""
    url, uploads = database_templates.copy(name, seed=True)
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": TEST_SECRET,
        "UPLOAD_DIR": str(uploads),
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "REDIS_URL": redis_url,
        "PORTAL_ENV": "development",
        **extra,
    }
    settings = storage_env(store, f"{name}-{uuid.uuid4().hex[:10]}")
    env.update(settings)
    if settings:
        app = checker(url, uploads, settings)
        try:
            with app.app_context():
                assert copy_files_into(app, uploads) > 0  # the seed's files, into the store
        finally:
            dispose_app(app)
    return url, uploads, env, settings
