"""The one settings object, read from ``NARRATOR_*`` environment variables.

With nothing set, narrator runs on the embedded default: a SQLite file and a local
folder under the data directory, and Celery tasks executed in-process. Setting the
database, broker and storage URLs turns the same code into a distributed service.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

PREFIX = "NARRATOR_"

# What every deployed process (compose service, k8s pod) must be given explicitly; the
# deployment tests check the manifests against this list.
DEPLOYMENT_ENV = frozenset(
    PREFIX + name.upper()
    for name in (
        "database_url", "broker_url", "storage_url", "s3_endpoint_url", "s3_access_key_id",
        "s3_secret_access_key", "s3_region", "data_dir", "model_cache", "secret_key", "log_level",
        "presign_ttl_seconds",
    )
)


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "narrator"


def _default_model_cache() -> Path:
    return Path.home() / ".cache" / "narrator"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    database_url: str = ""
    broker_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str = "us-east-1"
    model_cache: Path = field(default_factory=_default_model_cache)
    secret_key: str = "dev-only-change-me"
    log_level: str = "INFO"
    presign_ttl_seconds: int = 900
    max_upload_bytes: int = 50 * 1024 * 1024
    max_batch_items: int = 1000
    max_text_chars: int = 2000
    synth_threads: int = 2
    gate_attempts: int = 2
    metrics_port: int = 9100  # the worker's /metrics; 0 turns it off
    item_lease_seconds: int = 900  # a running item older than this lost its worker
    sweep_interval_seconds: int = 300
    # Speaker-embedding cosine between the consent recording and the reference; below it the
    # reference is taken to be someone else's voice and enrollment refuses it.
    consent_speaker_threshold: float = 0.80
    consent_max_error_rate: float = 0.30  # CER/WER of the recording against its statement

    def __post_init__(self) -> None:
        # Derived defaults: the embedded mode lives entirely under data_dir.
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'narrator.db'}")
        if not self.storage_url:
            object.__setattr__(self, "storage_url", (self.data_dir / "storage").as_uri())
        if self.presign_ttl_seconds <= 0:
            raise ValueError("NARRATOR_PRESIGN_TTL_SECONDS must be positive")

    @property
    def embedded(self) -> bool:
        """No broker configured: tasks run in-process (Celery eager mode)."""
        return not self.broker_url

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, f in cls.__dataclass_fields__.items():
            raw = env.get(PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            values[name] = _coerce(name, f.type, raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]


def _coerce(name: str, annotation: object, raw: str) -> object:
    kind = str(annotation)
    try:
        if kind == "Path":
            return Path(raw).expanduser()
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from exc
