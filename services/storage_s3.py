"""The S3-compatible backend (``STORAGE_URL=s3://bucket/prefix``): MinIO, SeaweedFS, Ceph, a
cloud's object storage. Objects are ``<prefix>/<key>`` (final), ``<prefix>/tmp/<key>``
(written before the commit, copied to the final key after it) and ``<prefix>/rendered/<name>``
(derived files). See services/storage.py for the interface and the life of a file."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from services.storage_core import (
    CHUNK,
    DERIVED,
    KEY_RE,
    FileInfo,
    MissingFile,
    Storage,
    StoredObject,
    check_derived_name,
    check_key,
)

TMP = "tmp"
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in _MISSING_CODES


class S3Storage(Storage):
    name = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 60,
        max_attempts: int = 4,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client_args = {
            "endpoint_url": endpoint_url or None,
            "region_name": region or "us-east-1",
            "aws_access_key_id": access_key or None,
            "aws_secret_access_key": secret_key or None,
            "config": Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"max_attempts": max_attempts, "mode": "standard"},
                s3={"addressing_style": "path"},
                signature_version="s3v4",
            ),
        }
        self._client = None
        self._pid = None

    @classmethod
    def from_config(cls, url: str, config) -> S3Storage:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"STORAGE_URL must look like s3://bucket/prefix, not {url!r}")
        return cls(
            parts.netloc,
            parts.path,
            endpoint_url=config.get("STORAGE_S3_ENDPOINT_URL"),
            region=config.get("STORAGE_S3_REGION"),
            access_key=config.get("STORAGE_S3_ACCESS_KEY"),
            secret_key=config.get("STORAGE_S3_SECRET_KEY"),
            connect_timeout=float(config.get("STORAGE_S3_CONNECT_TIMEOUT") or 5),
            read_timeout=float(config.get("STORAGE_S3_READ_TIMEOUT") or 60),
            max_attempts=int(config.get("STORAGE_S3_MAX_ATTEMPTS") or 4),
        )

    @property
    def client(self):
        """One client per process (a client made before gunicorn forks is not reused after)."""
        if self._client is None or self._pid != os.getpid():
            self._client = boto3.session.Session().client("s3", **self._client_args)
            self._pid = os.getpid()
        return self._client

    # object names
    def _name(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def final_name(self, key: str) -> str:
        return self._name(check_key(key))

    def temp_name(self, key: str) -> str:
        return self._name(f"{TMP}/{check_key(key)}")

    def _derived_name(self, name: str) -> str:
        return self._name(f"{DERIVED}/{check_derived_name(name)}")

    def _list(self, rel_prefix: str) -> Iterator[dict]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._name(rel_prefix)):
            yield from page.get("Contents", [])

    def _rel(self, name: str) -> str:
        return name[len(self.prefix) + 1 :] if self.prefix else name

    def _put(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=name, Body=data, ContentLength=len(data))

    def _delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=name)

    def _head(self, name: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def _promote(self, key: str) -> None:
        self.client.copy_object(
            Bucket=self.bucket,
            Key=self.final_name(key),
            CopySource={"Bucket": self.bucket, "Key": self.temp_name(key)},
        )
        self._delete(self.temp_name(key))

    # the interface
    def put_pending(self, key: str, data: bytes) -> None:
        self._put(self.temp_name(key), data)

    def put_final(self, key: str, data: bytes) -> None:
        self._put(self.final_name(key), data)

    def finalise(self, key: str) -> None:
        self._promote(key)

    def discard(self, key: str) -> None:
        self._delete(self.temp_name(key))

    def delete(self, key: str) -> None:
        self._delete(self.final_name(key))
        self._delete(self.temp_name(key))

    def open(self, key: str) -> StoredObject:
        for name in (self.final_name(key), self.temp_name(key)):
            head = self._head(name)
            if head is not None:
                return StoredObject(int(head["ContentLength"]), self._reader(name))
        raise MissingFile(key)

    def _reader(self, name: str) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            try:
                body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
            except ClientError as exc:
                if _missing(exc):
                    raise MissingFile(name) from None
                raise
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()

        return chunks

    def exists(self, key: str) -> bool:
        return any(
            self._head(name) is not None for name in (self.final_name(key), self.temp_name(key))
        )

    def list_files(self) -> Iterator[FileInfo]:
        for obj in self._list(""):
            rel = self._rel(obj["Key"])
            if KEY_RE.fullmatch(rel):
                yield FileInfo(rel, int(obj["Size"]), obj["LastModified"].timestamp())

    def remove_stale_temporary(
        self, known: Callable[[Iterable[str]], set[str]], older_than_seconds: int
    ) -> tuple[int, int]:
        """Temporary objects older than the grace period: one a committed row names lost its
        copy to a crash after the commit and is made final; any other is deleted."""
        cutoff = time.time() - older_than_seconds
        stale: list[str] = []
        for obj in self._list(f"{TMP}/"):
            key = self._rel(obj["Key"])[len(TMP) + 1 :]
            if obj["LastModified"].timestamp() < cutoff:
                if KEY_RE.fullmatch(key):
                    stale.append(key)
                else:
                    self._delete(obj["Key"])
        removed = promoted = 0
        for start in range(0, len(stale), 500):
            batch = stale[start : start + 500]
            named = known(batch)
            for key in batch:
                if key in named:
                    self._promote(key)
                    promoted += 1
                else:
                    self._delete(self.temp_name(key))
                    removed += 1
        return removed, promoted

    def read_derived(self, name: str) -> bytes | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._derived_name(name))["Body"]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        try:
            return body.read()
        finally:
            body.close()

    def save_derived(self, name: str, data: bytes) -> None:
        self._put(self._derived_name(name), data)  # a PUT is atomic: readers never see half

    def remove_unused_derived(self, older_than_days: int = 30) -> int:
        """Rendered PDFs written more than ``older_than_days`` ago (reading one does not
        refresh it here: an often-read one is simply rendered again once)."""
        cutoff = time.time() - older_than_days * 86400
        removed = 0
        for obj in self._list(f"{DERIVED}/"):
            if obj["LastModified"].timestamp() < cutoff:
                self._delete(obj["Key"])
                removed += 1
        return removed

    def check(self) -> None:
        """Raise unless the bucket answers (readiness checks)."""
        self.client.head_bucket(Bucket=self.bucket)
