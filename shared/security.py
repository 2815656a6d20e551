"""API keys: shown once, stored only as a SHA-256 hash, found by a short public prefix."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCOPES = ("read", "write", "admin")
# The first part of a secret says whose it is: a tenant's key, or the deployment operator's
# (which belongs to no tenant and opens only the operator's routes).
TENANT_TAG = "nrt"
OPERATOR_TAG = "nro"
# A scope grants everything below it.
SCOPE_RANK = {name: rank for rank, name in enumerate(SCOPES)}


@dataclass(frozen=True)
class NewKey:
    prefix: str
    secret: str  # the full key, to print once

    @property
    def key_hash(self) -> str:
        return hash_key(self.secret)


def generate_key(tag: str = TENANT_TAG) -> NewKey:
    prefix = secrets.token_hex(4)
    return NewKey(prefix=prefix, secret=f"{tag}_{prefix}_{secrets.token_urlsafe(32)}")


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_prefix(secret: str, tag: str = TENANT_TAG) -> str | None:
    parts = secret.split("_")
    if len(parts) < 3 or parts[0] != tag or len(parts[1]) != 8:
        return None
    return parts[1]


def matches(secret: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_key(secret), key_hash)


def allows(granted: str, needed: str) -> bool:
    return SCOPE_RANK[granted] >= SCOPE_RANK[needed]
