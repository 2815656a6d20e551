"""The deployment secret and the keys derived from it, one per purpose.

``NARRATOR_SECRET_KEY`` is never used as a key itself. Each purpose gets its own 256-bit key
by HKDF-SHA256 (RFC 5869) with the purpose in ``info``, so a key that leaks through one
use (a session key recovered from a debugging dump, a watermark key handed to a forensic
partner) opens nothing else, and the secret is not recoverable from any of them:

- ``sessions``  signs the review console's session cookie;
- ``files``     signs the local storage backend's ``/v1/files`` download links;
- ``watermark`` keys the inaudible mark in every rendered WAV.

Webhook payloads are signed with each endpoint's own random secret, not with anything
derived from this one, so a leak of the deployment secret does not forge webhooks either.

Outside the embedded mode (a broker or a non-SQLite database configured: several processes
and machines must agree on the keys) the secret must be given, at least
:data:`MIN_SECRET_CHARS` long, and not a value anyone has seen in a sample file; the API
and the Celery app (worker, beat) refuse to start otherwise. A secret that is set is held
to the same rule in every mode. The embedded mode, left without one, makes a
random secret once in its data folder (``secret_key``, mode 0600) and keeps using it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.settings import Settings

VARIABLE = "NARRATOR_SECRET_KEY"
MIN_SECRET_CHARS = 32
SECRET_FILE = "secret_key"
PURPOSES = ("sessions", "files", "watermark")
# Values shipped in samples, earlier releases and tests: long enough or not, never accepted.
KNOWN_DEFAULTS = frozenset({"dev-only-change-me", "change-me", "changeme", "test-secret", "faults-secret",
                            "bench-secret", "secret", "narrator"})
_SALT = b"narrator-deployment-secret"


class WeakSecret(ValueError):
    """The configured secret would let anyone who read a sample file sign as the service."""


def check_secret(secret: str) -> None:
    """Raise :class:`WeakSecret`, naming the variable, unless ``secret`` is fit to deploy."""
    if not secret:
        raise WeakSecret(f"{VARIABLE} is not set; outside the embedded mode it is required "
                         f"(at least {MIN_SECRET_CHARS} random characters, e.g. `openssl rand -hex 32`)")
    if secret.strip().lower() in KNOWN_DEFAULTS or "change-me" in secret.lower():
        raise WeakSecret(f"{VARIABLE} is a published default or placeholder; set a random secret of at least "
                         f"{MIN_SECRET_CHARS} characters (e.g. `openssl rand -hex 32`)")
    if len(secret) < MIN_SECRET_CHARS:
        raise WeakSecret(f"{VARIABLE} is {len(secret)} characters; it must be at least {MIN_SECRET_CHARS} "
                         "(e.g. `openssl rand -hex 32`)")


def derive(secret: str, purpose: str) -> bytes:
    """HKDF-SHA256 of the deployment secret for one purpose: 32 bytes."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}; one of {', '.join(PURPOSES)}")
    prk = hmac.new(_SALT, secret.encode(), hashlib.sha256).digest()
    return hmac.new(prk, f"narrator/{purpose}/v1".encode() + b"\x01", hashlib.sha256).digest()


def embedded_secret(data_dir: Path) -> str:
    """The embedded mode's secret: read from ``data_dir/secret_key``, made there (0600) the
    first time. Written aside and linked into place, so two processes starting together
    agree on one secret and neither reads a half-written file."""
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
        finally:
            tmp.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise WeakSecret(f"{path} holds no usable secret; delete it to have a new one made, or set {VARIABLE}")
    return secret


@dataclass(frozen=True)
class SecretKeys:
    """The per-purpose keys of one deployment; build with :meth:`of`."""

    sessions: bytes
    files: bytes
    watermark: bytes

    @classmethod
    def of(cls, settings: Settings) -> SecretKeys:
        """The keys of the configured secret or, left unset in the standalone embedded mode,
        of the one kept in the data folder. Raises :class:`WeakSecret` (naming the variable)
        for a missing, published or short secret: the API and the Celery app build these
        when they start, so a deployment with such a secret refuses to start."""
        if settings.secret_key or not settings.standalone:
            check_secret(settings.secret_key)
            secret = settings.secret_key
        else:
            secret = embedded_secret(settings.data_dir)
        return cls(**{purpose: derive(secret, purpose) for purpose in PURPOSES})
