"""Stock voices: the engine's licensed synthetic voice packs, offered to every tenant.

A stock voice is nobody's likeness, so it needs no consent and no recording. It is kept
as an ordinary voice row of the tenant (so batches, previews and streams name it by id
like any other, and every item is metered against the tenant), created on first use
with a deterministic id, and its one version's ``state_key`` is ``stock/<pack>``: the
worker reads that pack from its model cache instead of the tenant's storage. That key is
what exempts the voice from the consent check (``worker.jobs.item_sql.voice_usable``); no
cloned voice's state can carry it (``shared.storage_keys.voice_state_key`` builds those).

Only packs in a language narrator's frontend reads (Chinese, English) are offered;
Kokoro's name says the rest: its first letter the language, its second the gender.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shared.errors import NotFound, VoiceNotReady

if TYPE_CHECKING:  # the catalogue loads without the database layer (``narrator say --voice af_heart``)
    from sqlalchemy.orm import Session

STATE_PREFIX = "stock/"
METHOD = "stock"
ENGINE = "kokoro"
# Kokoro's language letter → (the language narrator renders it as, its accent)
LANGUAGES = {"z": ("zh", "zh-CN"), "a": ("en", "en-US"), "b": ("en", "en-GB")}
GENDERS = {"f": "female", "m": "male"}
_NAMESPACE = uuid.UUID("6f1c1a52-8d43-4b0e-9a51-3c2f5d7e9b10")


@dataclass(frozen=True)
class StockVoice:
    name: str  # the pack's name, e.g. zf_xiaoxiao
    language: str  # what the frontend reads it as: zh or en
    locale: str
    gender: str

    @classmethod
    def parse(cls, name: str) -> StockVoice | None:
        """The catalogue entry for a pack name, or None for a pack narrator does not offer."""
        if len(name) < 4 or name[2] != "_" or name[0] not in LANGUAGES or name[1] not in GENDERS:
            return None
        language, locale = LANGUAGES[name[0]]
        return cls(name=name, language=language, locale=locale, gender=GENDERS[name[1]])

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "kind": "stock", "language": self.language, "locale": self.locale,
                "gender": self.gender}


def packs_dir(model_cache: Path) -> Path:
    """Where set-up put the Kokoro packs (``worker.tts.synthesis.assets.voices_dir`` reads the same folder)."""
    return model_cache / "kokoro-voices"


def catalogue(model_cache: Path) -> list[StockVoice]:
    """Every offered pack present in the model cache, by name."""
    folder = packs_dir(model_cache)
    names = sorted(p.stem for p in folder.glob("*.bin")) if folder.is_dir() else []
    return [v for v in (StockVoice.parse(n) for n in names) if v is not None]


def find(model_cache: Path, name: str) -> StockVoice | None:
    voice = StockVoice.parse(name)
    if voice is None or not (packs_dir(model_cache) / f"{name}.bin").is_file():
        return None
    return voice


def pack_of(state_key: str) -> str | None:
    """The pack a version's state key names, or None for a cloned voice's stored state."""
    return state_key[len(STATE_PREFIX):] if state_key.startswith(STATE_PREFIX) else None


def voice_id(tenant_id: str, name: str) -> str:
    """The tenant's row for a stock voice: the same id every time, so adoption is idempotent."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}/{name}"))


def adopt(session: Session, tenant_id: str, stock: StockVoice) -> str:
    """The id of the tenant's ready voice for ``stock``, its rows created on first use."""
    from sqlalchemy.exc import IntegrityError  # deferred: the catalogue alone needs no database layer

    from shared.models import Voice, VoiceStatus, VoiceVersion  # deferred: as above

    vid = voice_id(tenant_id, stock.name)
    voice = session.get(Voice, vid)
    if voice is None:
        try:
            with session.begin_nested():
                voice = Voice(id=vid, tenant_id=tenant_id, name=stock.name, language=stock.language,
                              status=VoiceStatus.ready.value, consent_id=None)
                session.add(voice)
                session.flush()
                version = VoiceVersion(voice_id=vid, version=1, state_key=STATE_PREFIX + stock.name,
                                       state_sha256="-", engine=ENGINE, engine_version="-", method=METHOD,
                                       metrics={"stock": True})
                session.add(version)
                session.flush()
                voice.current_version_id = version.id
        except IntegrityError:  # another request adopted it at the same moment
            voice = session.get(Voice, vid)
    if voice is None or voice.tenant_id != tenant_id:
        raise NotFound(f"no stock voice {stock.name!r}")
    if voice.status != VoiceStatus.ready.value:
        raise VoiceNotReady(f"stock voice {stock.name!r} was deleted by this tenant", field="voice")
    return vid
