"""The claims a worker process holds on the items it is rendering, kept alive together.

The sweeper takes back a ``running`` item whose claim (its ``started_at``) is older than
the lease. One thread per process renews every claim the process holds, each third of the
lease, in one statement: a claim only gets that old when its worker is gone — not because
a render was slow on a busy machine, which would render the item twice — and holding a
claim costs an item no thread of its own (starting and joining one per item was a
measurable part of what the service adds to each item).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared.models import Item, ItemStatus, utcnow

log = logging.getLogger(__name__)


class Leases:
    def __init__(self, sessions: sessionmaker[Session], lease_seconds: float) -> None:
        self.sessions, self.interval = sessions, lease_seconds / 3
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def held(self, item_id: str) -> Iterator[None]:
        """Keep this process's claim on ``item_id`` alive while the block runs."""
        with self._lock:
            self._held.add(item_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._renew_until_closed, name="leases", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(item_id)

    def close(self) -> None:
        """Stop renewing (the process is going: its claims lapse and the sweeper takes them)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _renew_until_closed(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                held = list(self._held)
            if held:
                self.renew(held)

    def renew(self, item_ids: list[str]) -> None:
        try:
            with self.sessions.begin() as s:
                s.execute(update(Item).where(Item.id.in_(item_ids), Item.status == ItemStatus.running.value)
                          .values(started_at=utcnow()))
        except OperationalError as exc:  # the next renewal tries again; the lease is the bound
            log.warning("claims on %d items not renewed: %s", len(item_ids), exc)
