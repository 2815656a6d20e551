"""One storage interface with two backends: S3-compatible (boto3) and a local folder.

Keys are always tenant-scoped (see ``shared.storage_keys``); the backends know nothing of
tenants and store opaque bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote, urlparse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from shared.secret_keys import SecretKeys
from shared.settings import Settings


class StorageError(Exception):
    """A storage operation failed for a reason worth retrying (network, server)."""


class ObjectNotFound(KeyError):
    pass


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...
    def get(self, key: str) -> bytes: ...
    def put_file(self, key: str, fileobj: BinaryIO, content_type: str = "application/octet-stream") -> None:
        """Store what ``fileobj`` yields, read in chunks: big uploads never sit whole in memory."""
    def open(self, key: str) -> BinaryIO:
        """A readable stream of the object, for sources too big to ``get`` whole."""
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def presigned_url(self, key: str, expires_in: int) -> str: ...
    def ping(self) -> None: ...


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or ".." in key.split("/") or "\\" in key:
        raise ValueError(f"invalid storage key {key!r}")
    return key


def _check_prefix(prefix: str) -> str:
    """A prefix to delete under must name at least a tenant's folder: never the whole store."""
    if prefix.count("/") < 2 or not prefix.endswith("/"):
        raise ValueError(f"refusing to delete under the broad prefix {prefix!r}")
    return _check_key(prefix)


class LocalStorage:
    """A folder on disk. Presigned URLs point at the API's ``/v1/files`` route, signed with HMAC:
    on ``base_url`` when one is configured (a public address behind a proxy), else relative to
    the API's root (``/v1/files/...``), for the API to resolve against the request's own host."""

    def __init__(self, root: Path, link_key: bytes, base_url: str = "") -> None:
        self.root = root
        self.link_key = link_key  # SecretKeys.files: signs download links and nothing else
        self.base_url = base_url.rstrip("/")
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # atomic: a reader never sees half an object

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def put_file(self, key: str, fileobj: BinaryIO, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(fileobj, out, 1024 * 1024)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)  # a failed upload leaves nothing behind

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> Iterator[str]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many. Empty folders go too."""
        keys = list(self.list(_check_prefix(prefix)))
        for key in keys:
            self.delete(key)
        folder = self.root / prefix.rstrip("/")
        if folder.is_dir() and prefix.endswith("/"):
            for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
            if not any(folder.iterdir()):
                folder.rmdir()
        return len(keys)

    def sign(self, key: str, expires_at: int) -> str:
        msg = f"{key}\n{expires_at}".encode()
        return hmac.new(self.link_key, msg, hashlib.sha256).hexdigest()

    def verify(self, key: str, expires_at: int, signature: str) -> bool:
        """Compared as bytes: a signature of any characters is just wrong, never a server error."""
        return expires_at >= time.time() and hmac.compare_digest(
            self.sign(key, expires_at).encode(), signature.encode("utf-8", "surrogateescape"))

    def presigned_url(self, key: str, expires_in: int) -> str:
        expires_at = int(time.time()) + expires_in
        sig = self.sign(_check_key(key), expires_at)
        return f"{self.base_url}/v1/files/{quote(key)}?expires={expires_at}&signature={sig}"

    def ping(self) -> None:
        if not self.root.is_dir():
            raise StorageError(f"storage folder {self.root} is missing")


class _Borrowed:
    """Only ``read`` of a caller's file: boto3 closes what it uploads, and the caller still owns it."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self.fileobj = fileobj

    def read(self, n: int = -1) -> bytes:
        return self.fileobj.read(n)


class S3Storage:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"},
                          s3={"addressing_style": "path"}),
        )

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def _call(self, fn, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectNotFound(kwargs.get("Key", "")) from exc
            raise StorageError(f"S3 {fn.__name__} failed: {code}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {fn.__name__} failed: {exc}") from exc

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._call(self.client.put_object, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self._call(self.client.get_object, Key=self._key(key))["Body"].read()

    def put_file(self, key: str, fileobj: BinaryIO, content_type: str = "application/octet-stream") -> None:
        try:  # multipart above 8 MiB: memory stays at a few parts whatever the size
            self.client.upload_fileobj(_Borrowed(fileobj), self.bucket, self._key(key),
                                       ExtraArgs={"ContentType": content_type},
                                       Config=TransferConfig(multipart_threshold=8 * 1024 * 1024, use_threads=False))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"S3 upload of {key} failed: {exc}") from exc

    def open(self, key: str) -> BinaryIO:
        return self._call(self.client.get_object, Key=self._key(key))["Body"]  # type: ignore[no-any-return]

    def delete(self, key: str) -> None:
        self._call(self.client.delete_object, Key=self._key(key))

    def exists(self, key: str) -> bool:
        try:
            self._call(self.client.head_object, Key=self._key(key))
            return True
        except ObjectNotFound:
            return False

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for obj in page.get("Contents", []):
                yield obj["Key"][len(self.prefix):]

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (1000 per request, S3's limit); returns how many."""
        keys = list(self.list(_check_prefix(prefix)))
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": self._key(k)} for k in keys[start:start + 1000]]
            result = self._call(self.client.delete_objects, Delete={"Objects": chunk, "Quiet": True})
            if result.get("Errors"):
                raise StorageError(f"S3 delete_objects failed for {len(result['Errors'])} of {len(chunk)} objects")
        return len(keys)

    def presigned_url(self, key: str, expires_in: int) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_in
        )

    def ping(self) -> None:
        self._call(self.client.head_bucket)


def open_storage(settings: Settings) -> Storage:
    url = urlparse(settings.storage_url)
    if url.scheme == "s3":
        if not url.netloc:
            raise ValueError("NARRATOR_STORAGE_URL must name a bucket: s3://bucket[/prefix]")
        return S3Storage(
            bucket=url.netloc,
            prefix=url.path,
            endpoint_url=settings.s3_endpoint_url,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            region=settings.s3_region,
        )
    if url.scheme == "file":
        return LocalStorage(Path(url.path), SecretKeys.of(settings).files, settings.public_base_url)
    raise ValueError(f"NARRATOR_STORAGE_URL scheme {url.scheme!r} is not supported (use s3:// or file://)")
