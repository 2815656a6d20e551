"""The upload that runs while the gate checks a render (``worker.delivery``), against the
test S3 server: the key ends up holding the render that was kept, and an item that gives
up its audio leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from shared.secret_keys import SecretKeys
from shared.settings import Settings
from shared.storage import ObjectNotFound, Storage, StorageError, open_storage
from worker import delivery
from worker.delivery import ItemUpload, deliverable
from worker.tts.synthesis.pipeline import Rendered

SR = 24000


def render(freq: float) -> Rendered:
    t = np.arange(SR) / SR
    return Rendered(audio=(0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sample_rate=SR,
                    analysis=None)  # type: ignore[arg-type]


@pytest.fixture
def uploads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as executor:  # a worker's are kept for its life
        yield executor


@pytest.fixture
def upload(settings: Settings, uploads: ThreadPoolExecutor) -> ItemUpload:
    item_id = str(uuid.uuid4())
    return ItemUpload(open_storage(settings), f"tests/delivery/{item_id}.wav", item_id, SecretKeys.of(settings).watermark,
                      uploads)


def test_the_key_holds_the_kept_render_when_a_later_attempt_was_stored(upload: ItemUpload) -> None:
    first, second = render(220.0), render(330.0)
    upload.send(first)
    upload.send(second)  # the gate failed the first; the second was stored over it
    wav = upload.kept(first)  # ... but the first ranked better
    assert wav == deliverable(first, upload.item_id, upload.watermark_key)
    assert upload.storage.get(upload.key) == wav


def test_a_kept_earlier_render_is_sent_again_as_the_file_it_was(upload: ItemUpload, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Sending it again is one PUT: its file (watermark, WAV) was made when it was first sent."""
    made: list[Rendered] = []

    def counted(rendered: Rendered, item_id: str, secret: str, fmt: str = "wav") -> bytes:
        made.append(rendered)
        return deliverable(rendered, item_id, secret, fmt)

    monkeypatch.setattr(delivery, "deliverable", counted)
    first, second = render(220.0), render(330.0)
    upload.send(first)
    upload.send(second)
    assert upload.kept(first) == upload.storage.get(upload.key) and made == [first, second]


class CountedPuts:
    """The real storage, counting the uploads that go through it."""

    def __init__(self, storage: Storage) -> None:
        self.storage, self.puts = storage, 0

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.puts += 1
        self.storage.put(key, data, content_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)


def test_the_kept_render_is_not_sent_twice(upload: ItemUpload) -> None:
    counted = CountedPuts(upload.storage)
    upload.storage = counted  # type: ignore[assignment]
    only = render(440.0)
    upload.send(only)
    wav = upload.kept(only)
    assert counted.puts == 1 and counted.get(upload.key) == wav


def test_a_discarded_item_leaves_no_object(upload: ItemUpload) -> None:
    upload.send(render(220.0))
    upload.discard()
    with pytest.raises(ObjectNotFound):
        upload.storage.get(upload.key)


def test_a_failed_upload_is_raised_to_the_item(settings: Settings, uploads: ThreadPoolExecutor) -> None:
    unreachable = open_storage(settings.with_(s3_endpoint_url="http://127.0.0.1:9"))
    upload = ItemUpload(unreachable, "tests/delivery/x.wav", str(uuid.uuid4()), SecretKeys.of(settings).watermark,
                          uploads)
    upload.send(render(220.0))
    with pytest.raises(StorageError):
        upload.kept(render(220.0))
    upload.discard()  # storage still down: best effort, no exception
