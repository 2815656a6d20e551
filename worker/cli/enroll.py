"""``narrator enroll``, and the in-memory enrollment ``narrator say --reference`` shares:
the enroll job's core (``worker.enrollment``) on files, with no database or storage."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from shared.consent import key_phrases
from shared.settings import Settings
from worker.cli.consent import LocalConsent
from worker.cli.options import settings_for
from worker.enrollment import SpeakerMismatch, clean, enroll_cleaned
from worker.jobs.consent import check_statement
from worker.model_cache import ModelCache
from worker.tts.checks.decode import decode_audio
from worker.tts.checks.reference_report import ReferenceRejected
from worker.tts.synthesis.voice import VoiceState


def run(args: argparse.Namespace) -> int:
    """Write a reference's voice state to a file, with its enrollment metrics as JSON."""
    settings = settings_for(args)
    models = ModelCache(settings)
    state = enroll_file(models, settings, Path(args.reference), args.language, LocalConsent.from_args(args))
    Path(args.output).write_bytes(state.to_bytes())
    print(json.dumps({"output": args.output, **state.metrics}, ensure_ascii=False))
    return 0


def enroll_file(models: ModelCache, settings: Settings, reference: Path, language: str,
                consent: LocalConsent) -> VoiceState:
    """Check consent, clean and enroll a reference in memory; cache the state by the files' hash.

    The consent recording must say the statement (as the verify-consent job checks) and be
    the reference's speaker (as the enroll job checks); any refusal ends the command."""
    data = reference.read_bytes()
    digest = hashlib.sha256(data + consent.recording.read_bytes() + consent.statement(language).encode())
    # Another budget may find another voice; a voice enrolled before conversions existed has none.
    recipe = f"{settings.enroll_budget_seconds:g}" + ("-converted" if settings.voice_conversion else "")
    cache = models.cache_dir / "enrolled" / f"{digest.hexdigest()[:32]}-{language}-{recipe}.npz"
    if cache.is_file():
        return VoiceState.from_bytes(cache.read_bytes())
    try:
        consent_audio = decode_audio(consent.recording.read_bytes())
        cleaned = clean(models, data, language)
    except ReferenceRejected as exc:
        raise SystemExit(f"narrator: recording rejected: {exc}") from exc
    verdict = check_statement(models, *consent_audio, consent.statement(language), language,
                              settings.consent_max_error_rate, key_phrases(consent.speaker, consent.company, None))
    if verdict["reason"]:
        raise SystemExit(f"narrator: consent not verified: {verdict['reason']}")
    try:
        state = enroll_cleaned(models, cleaned, consent_audio, language, settings.consent_speaker_threshold).state
    except SpeakerMismatch as exc:
        raise SystemExit(f"narrator: consent not verified: {exc.reason}") from exc
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(state.to_bytes())
    return state
