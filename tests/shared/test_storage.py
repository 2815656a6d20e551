"""Both storage backends honour one interface; S3 is exercised against a real S3 server."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from shared.settings import Settings
from shared.storage import LocalStorage, ObjectNotFound, Storage, open_storage


@pytest.fixture(params=["s3", "local"])
def storage(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Storage:
    if request.param == "s3":
        return open_storage(settings.with_(storage_url=f"s3://{settings.storage_url[5:]}/t-{tmp_path.name}"))
    return LocalStorage(tmp_path / "store", b"link-key")


def test_put_get_exists_list_delete_round_trip(storage: Storage) -> None:
    storage.put("tenants/a/batches/b/items/0.wav", b"RIFF0", "audio/wav")
    storage.put("tenants/a/batches/b/items/1.wav", b"RIFF1", "audio/wav")
    storage.put("tenants/z/voices/v/versions/1.npz", b"npz")
    assert storage.get("tenants/a/batches/b/items/1.wav") == b"RIFF1"
    assert storage.exists("tenants/a/batches/b/items/0.wav")
    assert sorted(storage.list("tenants/a/")) == ["tenants/a/batches/b/items/0.wav", "tenants/a/batches/b/items/1.wav"]
    storage.delete("tenants/a/batches/b/items/0.wav")
    assert not storage.exists("tenants/a/batches/b/items/0.wav")
    with pytest.raises(ObjectNotFound):
        storage.get("tenants/a/batches/b/items/0.wav")


def test_keys_that_escape_the_root_are_refused(storage: Storage) -> None:
    for bad in ("../etc/passwd", "/abs/key", "tenants/../../x", ""):
        with pytest.raises(ValueError):
            storage.put(bad, b"x")


def test_s3_presigned_url_downloads_the_object(settings: Settings) -> None:
    storage = open_storage(settings)
    storage.put("tenants/p/batches/q/items/0.wav", b"hello")
    url = storage.presigned_url("tenants/p/batches/q/items/0.wav", expires_in=60)
    assert "X-Amz-Expires=60" in url
    assert requests.get(url, timeout=10).content == b"hello"


def test_local_signed_url_expires_and_rejects_tampering(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, b"link-key")
    assert storage.verify("k/a.wav", 2**40, storage.sign("k/a.wav", 2**40))
    assert not storage.verify("k/b.wav", 2**40, storage.sign("k/a.wav", 2**40))
    assert not storage.verify("k/a.wav", 1, storage.sign("k/a.wav", 1))  # long expired
    assert not storage.verify("k/a.wav", 2**40, "é" * 64)  # any characters: wrong, not a TypeError


def test_delete_prefix_removes_only_that_prefix_and_refuses_broad_ones(storage: Storage) -> None:
    for key in ("tenants/a/voices/v/references/r.original", "tenants/a/voices/v/adapters/x/lora.bin",
                "tenants/a/voices/v2/versions/1.npz", "tenants/b/voices/v/versions/1.npz"):
        storage.put(key, b"x")
    assert storage.delete_prefix("tenants/a/voices/v/") == 2
    assert list(storage.list("tenants/a/voices/v/")) == []
    assert sorted(storage.list("tenants/")) == ["tenants/a/voices/v2/versions/1.npz", "tenants/b/voices/v/versions/1.npz"]
    assert storage.delete_prefix("tenants/a/voices/v/") == 0  # again: nothing left, no error
    for broad in ("", "tenants/", "tenants/a"):
        with pytest.raises(ValueError):
            storage.delete_prefix(broad)
