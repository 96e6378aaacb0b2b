#!/usr/bin/env python3
"""Run the whole test suite on SQLite and on a throwaway PostgreSQL server, both at once.

The PostgreSQL cluster is made with initdb in a temporary directory, listens on a free
loopback port, and is stopped and removed afterwards, also when the tests fail.
Prints one summary line per backend and exits non-zero if anything failed or no test ran.

PORTAL_TEST_WORKERS=2 runs each backend's tests on two pytest-xdist workers (the test extras
install it), each test module on one worker, each worker with its own template databases and
live servers; passing -n yourself does the same. The default is one process: on a loaded 2-core
machine two workers were slower (the browser suite took 15 min instead of 9.5), because
test_every_page alone keeps one worker busy and two Chromiums compete for the cores.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
RESULTS = ROOT / ".test-results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def throwaway_postgres():
    tmp = Path(tempfile.mkdtemp(prefix="portal-pg-"))
    data = tmp / "data"
    log = tmp / "server.log"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
    tmp.chmod(0o700)
    started = False
    try:
        subprocess.run(
            as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        opts = (
            f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    opts,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        started = True
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                stdout=subprocess.DEVNULL,
            )
        shutil.rmtree(tmp, ignore_errors=True)


def parallel_args(args: list[str]) -> list[str]:
    """xdist's options, unless the caller chose a number of workers or xdist is missing."""
    workers = int(os.environ.get("PORTAL_TEST_WORKERS", "1"))
    chosen = any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args)
    if workers < 2 or chosen or importlib.util.find_spec("xdist") is None:
        return []
    return ["-n", str(workers), "--dist", "loadfile"]


def browser_args(backend: str) -> list[str]:
    """The Chromium suite runs once, on SQLite: on two cores it is the longest part of each run,
    and its pages read the same services that both backends test without a browser.
    PORTAL_TEST_BROWSER_BOTH=1 runs it on PostgreSQL too."""
    if backend == "postgresql" and os.environ.get("PORTAL_TEST_BROWSER_BOTH") != "1":
        return ["--ignore=tests/browser"]
    return []


def start_pytest(backend: str, extra_env: dict[str, str], args: list[str]) -> subprocess.Popen:
    """Start one backend's run; its output goes to .test-results/<backend>.log."""
    RESULTS.mkdir(exist_ok=True)
    xml = RESULTS / f"{backend}.xml"
    xml.unlink(missing_ok=True)
    env = {**os.environ, **extra_env}
    env.pop("PORTAL_TEST_PG_ADMIN_URL", None) if backend == "sqlite" else None
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--junitxml={xml}",
        f"--basetemp={RESULTS / f'tmp-{backend}'}",  # two runs at once never share a folder
        *parallel_args(args),
        *browser_args(backend),
        *args,
    ]
    log = (RESULTS / f"{backend}.log").open("w")
    print(f"=== {backend}: started ({' '.join(command[1:])}) ===", flush=True)
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def finish_pytest(backend: str, process: subprocess.Popen) -> tuple[int, dict[str, int]]:
    """Wait for one backend's run, print its output, and count its results."""
    code = process.wait()
    print(f"=== {backend} ===", flush=True)
    print((RESULTS / f"{backend}.log").read_text(errors="replace"), flush=True)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    xml = RESULTS / f"{backend}.xml"
    if xml.exists():
        for suite in ET.parse(xml).getroot().iter("testsuite"):
            for key in counts:
                counts[key] += int(suite.get(key, 0))
    return code, counts


def summary(backend: str, counts: dict[str, int]) -> str:
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    line = f"{backend}: {passed} passed"
    if counts["failures"]:
        line += f", {counts['failures']} failed"
    if counts["errors"]:
        line += f", {counts['errors']} errors"
    if counts["skipped"]:
        line += f", {counts['skipped']} skipped"
    return line


def main() -> int:
    """Both backends at once (each is one process that mostly waits on a browser, a server or
    a database, so two share the two cores well); PORTAL_TEST_SEQUENTIAL=1 runs them in turn."""
    args = sys.argv[1:]
    sequential = os.environ.get("PORTAL_TEST_SEQUENTIAL") == "1"
    results: list[tuple[str, int, dict[str, int]]] = []
    sqlite = start_pytest("sqlite", {}, args)
    if sequential:
        results.append(("sqlite", *finish_pytest("sqlite", sqlite)))
    try:
        with throwaway_postgres() as admin_url:
            postgres = start_pytest("postgresql", {"PORTAL_TEST_PG_ADMIN_URL": admin_url}, args)
            if not sequential:
                results.append(("sqlite", *finish_pytest("sqlite", sqlite)))
            results.append(("postgresql", *finish_pytest("postgresql", postgres)))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"could not start PostgreSQL: {exc}", file=sys.stderr)
        if not sequential:
            results.append(("sqlite", *finish_pytest("sqlite", sqlite)))
        results.append(("postgresql", 1, {"tests": 0, "failures": 0, "errors": 1, "skipped": 0}))
    print()
    ok = True
    total_passed = total_failed = 0
    for backend, code, counts in results:
        print(summary(backend, counts))
        passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
        total_passed += passed
        total_failed += counts["failures"] + counts["errors"]
        if code != 0 or passed == 0:
            ok = False
    print(f"total: {total_passed} passed, {total_failed} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
