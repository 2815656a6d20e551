"""The one settings object, read from ``NARRATOR_*`` environment variables.

With nothing set, narrator runs on the embedded default: a SQLite file and a local
folder under the data directory, and Celery tasks executed in-process. Setting the
database, broker and storage URLs turns the same code into a distributed service.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from shared.egress import AllowList

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


# Given only to the migrating job (compose ``migrate``, the k8s migrate Job and audit
# checkpoint CronJob), never to the API, workers or beat: the schema owner's credentials and
# the key that signs audit checkpoints (shared/db_roles.py, shared/audit_anchor.py).
MIGRATION_ENV = frozenset(PREFIX + name.upper() for name in ("migration_database_url", "audit_hmac_key"))


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "narrator"


def _default_model_cache() -> Path:
    return Path.home() / ".cache" / "narrator"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=_default_data_dir)
    # The services' database role: it reads and writes rows, and owns nothing (shared/db_roles.py).
    database_url: str = ""
    # The schema owner's URL, for `narrator migrate` and `narrator audit checkpoint` only (never
    # given to the API, workers or beat). Empty: the one database_url role does everything.
    migration_database_url: str = ""
    # Signs audit checkpoints (shared/audit_anchor.py); given only to the migrating job and to
    # whoever verifies, never to the services, so they cannot re-sign a rewritten chain.
    audit_hmac_key: str = ""
    broker_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str = "us-east-1"
    model_cache: Path = field(default_factory=_default_model_cache)
    # The deployment secret (shared/secret_keys.py derives a key per purpose from it). Required
    # outside the embedded mode, at least 32 characters; left empty in the embedded mode, a
    # random one is made once in data_dir/secret_key.
    secret_key: str = ""
    log_level: str = "INFO"
    presign_ttl_seconds: int = 900
    # Where clients reach the API, e.g. https://narrator.example.com behind a proxy: local-storage
    # download links (/v1/files/...) are built on it. Empty: on the host and port each request
    # came in on, so `narrator api --port 8765` hands out links to port 8765.
    public_base_url: str = ""
    max_upload_bytes: int = 50 * 1024 * 1024
    # Audio uploads, checked on the file's header before anything decodes it (shared/audio_limits.py):
    # longest reference and consent recording, and the sample rates and channels accepted.
    max_reference_seconds: float = 600.0
    max_consent_seconds: float = 120.0
    audio_min_sample_rate: int = 8000
    audio_max_sample_rate: int = 192000
    audio_max_channels: int = 8
    max_batch_items: int = 100000
    # Batches this small (and previews) go to the ``interactive`` queue, never behind a big batch.
    interactive_max_items: int = 50
    # Items of one batch in the broker at once; each finished item tops its batch up, so big
    # batches of different tenants interleave instead of queueing one behind the other.
    batch_window: int = 50
    max_text_chars: int = 2000
    synth_threads: int = 2
    # Each vocoder Snake as one compiled operator (worker/tts/synthesis/snake_op.py): the same audio
    # in ~0.83 × the engine time, for ~0.5 s and ~150 MiB more at load (numba). Off, the engine runs
    # the operators' arithmetic; `narrator say` turns it off for a short text, where the load costs
    # more than it saves.
    snake_operator: bool = True
    # A whole reading's sentences rendered synth_threads at a time, each on one thread
    # (worker/tts/synthesis/pipeline.py, Synthesizer._side_by_side): the same audio in ~0.72-0.82 ×
    # the time on 2 cores, for a second engine session (~0.8 s to build, ~100 MiB) and its working
    # memory while two chunks render (~250-480 MiB more at peak). Streams are unaffected.
    render_side_by_side: bool = True
    # The synthesis engine: "kokoro" (built in, int8 ONNX on the CPU) or "package.module:factory",
    # a callable taking these Settings and returning a worker.tts.synthesis.engine.Engine (e.g. a GPU model
    # an operator provides). Voice states record the engine version they were enrolled with.
    engine: str = "kokoro"
    # Where the worker's models run: "cpu"; "cuda" (Kokoro's float graph on onnxruntime's CUDA
    # provider, Whisper on CTranslate2's CUDA, torch on CUDA; the worker refuses to start when
    # a runtime sees no GPU); "auto": cuda when every runtime sees a GPU, else cpu.
    device: str = "auto"
    gate_attempts: int = 2
    metrics_port: int = 9100  # the worker's /metrics; 0 turns it off
    item_lease_seconds: int = 900  # a running item older than this lost its worker
    # Claims of one item (every try counts: a retry after an outage, a sweep after a lost
    # worker). An item that raised something unexpected, or whose worker died, this many times
    # ends ``failed`` with the reason instead of being tried again, so its batch settles.
    item_max_attempts: int = 3
    # A task message delivered this many times without finishing (each time its worker was
    # killed: out of memory, a segfault in a decoder) is not run again: its row is failed with
    # the reason and the message is set aside in Redis (worker/deliveries.py).
    max_deliveries: int = 3
    # How long the broker waits for a worker's acknowledgement before it hands the message to
    # another worker: a task that runs longer than this is run twice, so keep it above the
    # longest task; a message whose worker was killed is redelivered after it.
    broker_visibility_timeout_seconds: int = 3600
    # Wall-clock budget of cloning at enrollment: the stock-blend search first (~20-30 s on two
    # cores), then the style search (worker/tts/cloning/style_search.py) refines the voice with what is
    # left, so QA + cloning + the consent check stay within two minutes. 0 skips the refinement.
    enroll_budget_seconds: float = 100.0
    # Learn a per-speaker spectral conversion at enrollment (worker/tts/cloning/conversion_fit.py):
    # the clone reads the reference's transcript and its envelope is mapped toward the speaker's.
    # Kept per voice only when the guard finds it closer and no less clear; its learning is taken
    # from the enrollment budget above. False enrolls style-only voices.
    voice_conversion: bool = True
    # A batch still `planning` (or `queued`) with no planner progress for this long is planned
    # again by the sweeper; a live planner stores a chunk of 1 000 lines in well under a second.
    plan_lease_seconds: int = 120
    sweep_interval_seconds: int = 300
    # Speaker-embedding cosine between the consent recording and the reference; below it the
    # reference is taken to be someone else's voice and enrollment refuses it. Calibrated by
    # bench/consent_eer.py (28 stock voices, consent side in a small noisy room): EER 3.1 % at
    # 0.70; at 0.72 FAR 1.7 % (0 % on same-language same-gender pairs; the accepted impostors are
    # cross-language packs of the same name, em_santa/pm_santa ...) and FRR 9 %. The former 0.80
    # refused two genuine speakers in three (FRR 66 %) for no measured gain in FAR.
    consent_speaker_threshold: float = 0.72
    consent_max_error_rate: float = 0.30  # CER/WER of the recording against its statement
    # Per API key: a bucket of rate_limit_requests tokens refilled evenly over the window
    # (600 a minute, bursts of up to 600). 0 turns the limit off.
    rate_limit_requests: int = 600
    rate_limit_window_seconds: int = 60
    # Per client address, where no key vouches for the caller: failed authentications (a bad
    # or unknown key, on the API or the console's sign-in) allowed per window before every
    # credentialed request from that address gets 429, and requests to the console and to
    # signed downloads (/v1/files) per window.
    auth_failure_limit: int = 20
    address_rate_limit_requests: int = 600
    max_keys_per_tenant: int = 50  # live API keys (not revoked, not expired) a tenant may hold
    # Previews (POST /v1/synthesize) wait on their render in an API thread: at most this many
    # per tenant at once (429 past it), at most preview_max_waiting per API process (503 past
    # it: keep it below gunicorn's --threads so probes always find a free thread), and at most
    # preview_timeout_seconds each.
    preview_max_concurrent: int = 2
    preview_max_waiting: int = 6
    preview_timeout_seconds: float = 120.0
    # Webhooks: an attempt that times out or answers non-2xx is retried after
    # backoff * 2**(attempt-1) (capped, with jitter) until max_attempts, then the delivery fails.
    # The timeout is the attempt's total deadline (connect, TLS, send, the whole answer).
    webhook_timeout_seconds: float = 10.0
    webhook_max_response_bytes: int = 64 * 1024  # read this much of an answer, then hang up
    # Webhooks go only to public addresses; on-prem receivers with internal addresses are let
    # through here: comma-separated CIDRs ("10.20.0.0/16") and host names ("hooks.corp.example").
    webhook_allow: str = ""
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 30.0
    webhook_backoff_max_seconds: float = 3600.0
    webhook_secret_grace_seconds: int = 86400  # after a rotation the old secret also signs this long
    webhook_sweep_interval_seconds: int = 60  # beat: re-enqueue deliveries whose message was lost
    # Schedules: how often beat looks for due runs, and how late a run may start under "skip".
    schedule_interval_seconds: int = 30
    schedule_misfire_grace_seconds: int = 300
    # Nightly fine-tune of each tenant's pronunciation adapter: the UTC hour it may start,
    # and how often beat looks for tenants that are due.
    finetune_hour_utc: int = 2
    finetune_check_seconds: int = 600
    # Review console sessions (server-side rows): signed out after this long without a request,
    # and after this long in any case. The cookie is marked Secure when the request came over
    # HTTPS (X-Forwarded-Proto included); console_secure_cookie marks it Secure always.
    console_idle_seconds: int = 1800
    console_max_seconds: int = 43200
    console_secure_cookie: bool = False

    def __post_init__(self) -> None:
        # Derived defaults: the embedded mode lives entirely under data_dir.
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'narrator.db'}")
        if not self.storage_url:
            object.__setattr__(self, "storage_url", (self.data_dir / "storage").as_uri())
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"NARRATOR_DEVICE must be auto, cpu or cuda, got {self.device!r}")
        if self.presign_ttl_seconds <= 0:
            raise ValueError("NARRATOR_PRESIGN_TTL_SECONDS must be positive")
        if self.public_base_url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", self.public_base_url):
            raise ValueError(f"NARRATOR_PUBLIC_BASE_URL={self.public_base_url!r} is not an http(s) URL "
                             "without query or fragment")
        AllowList.parse(self.webhook_allow)  # a typo in the allow-list stops the start, naming the entry
        if self.rate_limit_requests < 0 or self.rate_limit_window_seconds <= 0:
            raise ValueError("NARRATOR_RATE_LIMIT_REQUESTS must be >= 0 and NARRATOR_RATE_LIMIT_WINDOW_SECONDS positive")
        if self.console_idle_seconds <= 0 or self.console_max_seconds <= 0:
            raise ValueError("NARRATOR_CONSOLE_IDLE_SECONDS and NARRATOR_CONSOLE_MAX_SECONDS must be positive")

    @property
    def webhook_allow_list(self) -> AllowList:
        """The parsed ``webhook_allow``: the internal receivers webhooks may reach."""
        return AllowList.parse(self.webhook_allow)

    @property
    def embedded(self) -> bool:
        """No broker configured: tasks run in-process (Celery eager mode)."""
        return not self.broker_url

    @property
    def standalone(self) -> bool:
        """Embedded and on SQLite: one process tree on one machine, the only mode that may
        make its own secret (nothing else has to share it)."""
        return self.embedded and self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, f in cls.__dataclass_fields__.items():
            raw = env.get(PREFIX + name.upper())
            if raw is None or raw == "":
                continue
            values[name] = _coerce(name, f.type, raw)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
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
        if kind == "bool":
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return raw
    except ValueError as exc:
        raise ValueError(f"{PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from exc
