"""An item's audio file: watermarked, encoded and stored while the quality gate still listens.

The upload is the largest piece of the per-item overhead (one PUT: milliseconds to a local
S3 server, tens of them to a remote one) and the gate's speech recognition takes seconds,
so each render is sent as soon as it exists and its check runs meanwhile. Every render of
an item goes to the item's one deterministic key: a retried render overwrites it, the kept
render is sent again if a later one was stored over it, and an item that fails after an
upload has the object removed, so no attempt leaves an orphan behind.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING

from shared.audio_formats import content_type_of, encode_file
from shared.speech_channel import pcm16
from shared.storage import Storage, StorageError
from shared.storage_keys import extension
from worker.tts.synthesis.audio import to_wav_bytes
from worker.tts.synthesis.watermark import mark_item

if TYPE_CHECKING:  # the pipeline (and the frontend it imports) loads where renders are made
    from worker.tts.synthesis.pipeline import Rendered

log = logging.getLogger(__name__)


def deliverable(rendered: Rendered, item_id: str, watermark_key: bytes, fmt: str = "wav") -> bytes:
    """The file a user receives: the render, watermarked with its item id (inaudibly; read
    back by `narrator watermark detect`), in the batch's ``output_format``."""
    marked = mark_item(rendered.audio, rendered.sample_rate, item_id, watermark_key)
    return to_wav_bytes(marked, rendered.sample_rate) if fmt == "wav" else encode_file(pcm16(marked), fmt)


class ItemUpload:
    """The uploads of one item's renders, one at a time and in order, on ``executor``'s
    threads (the process's, kept: see ``WorkerContext.uploads``)."""

    def __init__(self, storage: Storage, key: str, item_id: str, watermark_key: bytes, executor: Executor) -> None:
        self.storage, self.key, self.item_id, self.watermark_key = storage, key, item_id, watermark_key
        self.fmt, self.content_type = extension(key), content_type_of(key)  # the key's extension names its format
        self._executor = executor
        self._pending: Future[tuple[Rendered, bytes]] | None = None
        self._stored: tuple[Rendered, bytes] | None = None
        self._files: list[tuple[Rendered, bytes]] = []  # every render sent, with its file
        self._sent = False

    def send(self, rendered: Rendered) -> None:
        """Start storing this render; the previous upload finishes first (its error is raised here)."""
        self._wait()
        self._pending = self._executor.submit(self._put, rendered)
        self._sent = True

    def kept(self, rendered: Rendered) -> bytes:
        """The stored file's bytes once ``rendered`` is what the key holds. A render stored
        over by a later one is sent again as the file it was (not watermarked twice)."""
        self._wait()
        if self._stored is None or self._stored[0] is not rendered:
            self._sent = True
            wav = next((w for r, w in self._files if r is rendered), None)
            if wav is None:
                self._stored = self._put(rendered)
            else:
                self.storage.put(self.key, wav, self.content_type)
                self._stored = rendered, wav
        return self._stored[1]

    def discard(self) -> None:
        """The item will not deliver this audio: remove whatever an attempt stored. Best effort:
        with storage down the delete fails too, and a retry of the item overwrites the key."""
        try:
            self._wait()
        except Exception as exc:  # noqa: BLE001 (the item failed for its own reason; this is the upload's)
            log.debug("item %s: discarded upload had failed: %s", self.item_id, exc)
        if not self._sent:
            return
        try:
            self.storage.delete(self.key)
        except (StorageError, OSError) as exc:
            log.warning("item %s: could not remove %s: %s", self.item_id, self.key, exc,
                        extra={"item_id": self.item_id})

    def _put(self, rendered: Rendered) -> tuple[Rendered, bytes]:
        data = deliverable(rendered, self.item_id, self.watermark_key, self.fmt)
        self.storage.put(self.key, data, self.content_type)
        return rendered, data

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._stored = pending.result()
            self._files.append(self._stored)
