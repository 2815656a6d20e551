"""The storage key layout: every object lives under its tenant's prefix."""

from __future__ import annotations


def tenant_prefix(tenant_id: str) -> str:
    return f"tenants/{tenant_id}/"


def voice_prefix(tenant_id: str, voice_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}voices/{voice_id}/"


def reference_key(tenant_id: str, voice_id: str, reference_id: str, suffix: str = "bin") -> str:
    return f"{voice_prefix(tenant_id, voice_id)}references/{reference_id}.{suffix}"


def voice_state_key(tenant_id: str, voice_id: str, version: int) -> str:
    return f"{voice_prefix(tenant_id, voice_id)}versions/{version}.npz"


def batch_prefix(tenant_id: str, batch_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}batches/{batch_id}/"


def item_key(tenant_id: str, batch_id: str, seq: int, extension: str = "wav") -> str:
    return f"{batch_prefix(tenant_id, batch_id)}items/{seq}.{extension}"


def extension(key: str | None) -> str:
    """A stored item's extension, which names its format (``wav`` for an item with no key)."""
    return (key or ".wav").rsplit(".", 1)[-1]


def manifest_key(tenant_id: str, batch_id: str) -> str:
    return f"{batch_prefix(tenant_id, batch_id)}manifest.jsonl"


def batch_zip_key(tenant_id: str, batch_id: str) -> str:
    return f"{batch_prefix(tenant_id, batch_id)}batch.zip"


def batch_source_key(tenant_id: str, batch_id: str, fmt: str) -> str:
    """The uploaded CSV/JSONL, kept as sent: the planner reads items from it."""
    return f"{batch_prefix(tenant_id, batch_id)}source.{fmt}"


def consent_prefix(tenant_id: str, consent_id: str) -> str:
    return f"{tenant_prefix(tenant_id)}consents/{consent_id}/"


def consent_recording_key(tenant_id: str, consent_id: str) -> str:
    return f"{consent_prefix(tenant_id, consent_id)}recording"


def adapter_key(tenant_id: str, version: int) -> str:
    """A tenant's pronunciation adapter: learned from its corrections, so it is its data."""
    return f"{tenant_prefix(tenant_id)}adapters/polyphone-{version}.pt"
