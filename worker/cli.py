"""The ``narrator`` command: one subcommand per job, each doing one thing.

``render`` and ``say`` run on the embedded default (SQLite, a local folder, tasks in
process) through exactly the code a distributed worker runs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.settings import Settings

log = logging.getLogger("narrator")


def _settings(args: argparse.Namespace, embedded: bool = False) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir).expanduser().resolve()
    settings = Settings.from_env(**overrides)
    if embedded and not settings.embedded:
        settings = settings.with_(broker_url="")
    return settings


# --- consent ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalConsent:
    """The speaker's consent as the CLI takes it: a recording of them reading the statement
    for their name and the company (``narrator consent-statement`` prints it)."""

    recording: Path
    speaker: str
    company: str

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "LocalConsent":
        if not (args.consent and args.speaker and args.company):
            raise SystemExit("narrator: cloning needs the speaker's consent: --consent RECORDING --speaker NAME "
                             "--company NAME (see `narrator consent-statement`)")
        return cls(Path(args.consent), args.speaker, args.company)

    def statement(self, language: str) -> str:
        from shared.consent import statement

        return statement(language, self.speaker, self.company, None)


def speed_arg(value: str) -> float:
    """--speed as the engine accepts it: refused at the command line, not as a traceback mid-render."""
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.5 <= speed <= 2.0:
        raise argparse.ArgumentTypeError("speed must be between 0.5 and 2.0")
    return speed


def add_consent_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--consent", help="recording of the speaker reading the consent statement")
    p.add_argument("--speaker", help="the speaker's full name, as in the statement")
    p.add_argument("--company", help="the company the speaker consents to, as in the statement")


# --- embedded jobs ------------------------------------------------------------------------


class Embedded:
    """An embedded narrator: migrated database, local tenant, in-process Celery."""

    TENANT = "local"

    def __init__(self, settings: Settings) -> None:
        from shared.errors import NotFound
        from shared.migrate import upgrade
        from shared.tenants import create_tenant, find_tenant
        from worker.celery_app import make_celery

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url)
        self.celery = make_celery(settings)
        self.ctx = self.celery.narrator  # type: ignore[attr-defined]
        with self.ctx.sessions.begin() as s:
            try:
                self.tenant_id = find_tenant(s, self.TENANT).id
            except NotFound:
                self.tenant_id = create_tenant(s, self.TENANT, actor="cli").id

    def run(self, task: str, *args: str) -> None:
        import worker.tasks  # noqa: F401  (registers tasks)

        self.celery.tasks[task].apply(args=args, throw=True)

    def consent_for(self, consent: LocalConsent, language: str) -> str:
        """Record and verify the speaker's consent, through the same job the API uses."""
        from shared import jobs, keys
        from shared.consent import create_consent
        from shared.models import Consent, ConsentStatus

        with self.ctx.sessions.begin() as s:
            row = create_consent(
                s, self.tenant_id, speaker_name=consent.speaker, company_name=consent.company,
                agreement_version="cli", agreement_text=f"consent recording {consent.recording.name}",
                signature=consent.speaker, language=language, client_ip=None, user_agent="narrator-cli", actor="cli")
            row.statement, row.code = consent.statement(language), None
            row.recording_key = keys.consent_recording_key(self.tenant_id, row.id)
            self.ctx.storage.put(row.recording_key, consent.recording.read_bytes(), "audio/wav")
            row.status = ConsentStatus.verifying.value
            consent_id = row.id
        self.run(jobs.VERIFY_CONSENT, consent_id)
        with self.ctx.sessions() as s:
            row = s.get(Consent, consent_id)
            assert row is not None
            if row.status != ConsentStatus.verified.value:
                raise SystemExit(f"narrator: consent not verified: {(row.verification or {}).get('reason')}")
        return consent_id

    def voice_for(self, reference: Path, language: str, consent: LocalConsent) -> str:
        """Enroll a reference once; the same file (by SHA-256) reuses the ready voice."""
        from sqlalchemy import select

        from shared import jobs
        from shared.models import ReferenceAudio, Voice, VoiceStatus
        from shared.services import register_voice

        data = reference.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        consent_id = self.consent_for(consent, language)  # every run: the speaker's word is checked anew
        with self.ctx.sessions() as s:
            existing = s.scalar(
                select(Voice.id).join(ReferenceAudio, ReferenceAudio.voice_id == Voice.id)
                .where(ReferenceAudio.sha256 == digest, Voice.language == language,
                       Voice.status == VoiceStatus.ready.value, Voice.tenant_id == self.tenant_id)
            )
        if existing:
            return existing
        with self.ctx.sessions.begin() as s:
            voice_id = register_voice(s, self.ctx.storage, self.tenant_id, reference.stem, language, data,
                                      "audio/wav", actor="cli", consent_id=consent_id)
        self.run(jobs.ENROLL, voice_id)
        with self.ctx.sessions() as s:
            voice = s.get(Voice, voice_id)
            assert voice is not None
            if voice.status != VoiceStatus.ready.value:
                raise SystemExit(f"narrator: enrollment failed: {voice.error}")
        return voice_id


def _read_catalog(path: Path) -> list[dict[str, str]]:
    """The catalogue's rows with text; an ``id`` names the row's file in ``--out``, so one
    that is not a plain file name (``../x``, ``/abs/x``, ``a/b``) refuses the whole catalogue
    before anything is rendered, as does an id used twice (one file would overwrite the other)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "text" not in reader.fieldnames:
            raise SystemExit(f"narrator: {path} needs a header row with a 'text' column (and optionally 'id')")
        rows = [r for r in reader if (r.get("text") or "").strip()]
    if not rows:
        raise SystemExit(f"narrator: {path} has no rows with text")
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        item_id = row["id"] = (row.get("id") or "").strip()
        if not item_id:
            continue
        if not is_plain_file_stem(item_id):
            raise SystemExit(f"narrator: {path}: the id {item_id!r} of row {n} is not a plain file name (no path "
                             "separators, no leading dot, no control characters, at most 200 characters)")
        if item_id.casefold() in seen:
            raise SystemExit(f"narrator: {path}: the id {item_id!r} appears twice (each row's file is named by it)")
        seen.add(item_id.casefold())
    return rows


def is_plain_file_stem(name: str) -> bool:
    """Can ``name`` + ".wav" be written inside a folder and nowhere else, on any system?"""
    return (0 < len(name) <= 200 and not name.startswith(".") and name == name.strip()
            and not any(ch in '/\\:' or ord(ch) < 32 or ord(ch) == 127 for ch in name)
            and Path(name).name == name and not Path(name).is_absolute())


def _output_file(out: Path, stem: str) -> Path:
    """``out``/``stem``.wav, refused if it would land anywhere but directly in ``out``."""
    target = (out / f"{stem}.wav").resolve()
    if target.parent != out.resolve():
        raise SystemExit(f"narrator: refusing to write {stem!r} outside {out}")
    return target


def cmd_render(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from sqlalchemy import select

    from shared import jobs
    from shared.models import Batch, Item
    from shared.queries import item_counts
    from shared.services import create_batch

    rows = _read_catalog(Path(args.catalog))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    emb = Embedded(_settings(args, embedded=True))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("enrolling voice", total=None)
        voice_id = emb.voice_for(Path(args.reference), args.language, LocalConsent.from_args(args))
        items = [{"text": r["text"].strip(), "voice_id": voice_id, "external_id": r.get("id") or None} for r in rows]
        with emb.ctx.sessions.begin() as s:
            batch_id = create_batch(s, emb.tenant_id, items, Path(args.catalog).name, {"speed": args.speed}, "cli")
        bar.update(task, description="rendering", total=len(items), completed=0)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                emb.run(jobs.PLAN_BATCH, batch_id)
            except BaseException as exc:  # surfaced in the main thread below
                errors.append(exc)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            with emb.ctx.sessions() as s:
                counts = item_counts(s, batch_id)
            bar.update(task, completed=sum(counts[k] for k in ("succeeded", "needs_review", "failed", "cancelled")))
        if errors:
            raise errors[0]
        bar.update(task, completed=len(items))
    with emb.ctx.sessions() as s:
        batch = s.get(Batch, batch_id)
        assert batch is not None
        db_items = s.scalars(select(Item).where(Item.batch_id == batch_id).order_by(Item.seq)).all()
    failed = 0
    with open(out / "manifest.jsonl", "w", encoding="utf-8") as manifest:
        for it in db_items:
            target = _output_file(out, it.external_id or f"{it.seq:04d}")
            name = target.name
            entry = {"id": it.external_id, "seq": it.seq, "text": it.text, "status": it.status, "error": it.error,
                     "file": None, "duration_s": it.duration_s, "checksum": it.checksum,
                     "voice_version_id": it.voice_version_id}
            if it.storage_key:
                target.write_bytes(emb.ctx.storage.get(it.storage_key))
                entry["file"] = name
            else:
                failed += 1
            manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
    print(f"batch {batch_id}: {batch.status}; {len(db_items) - failed} of {len(db_items)} items written to {out}/")
    return 0 if failed == 0 else 1


def _load_models(settings: Settings):  # type: ignore[no-untyped-def]
    from worker.models import ModelCache

    return ModelCache(settings)


def _enroll_file(models, settings: Settings, reference: Path, language: str, consent: LocalConsent):  # type: ignore[no-untyped-def]
    """Check consent, clean and enroll a reference in memory; cache the state by the files' hash."""
    from shared.consent import key_phrases
    from worker.jobs import check_statement, same_speaker
    from worker.tts.checks.decode import decode_audio
    from worker.tts.checks.reference import clean_reference
    from worker.tts.checks.reference_report import ReferenceRejected
    from worker.tts.synthesis.voice import VoiceState

    data = reference.read_bytes()
    digest = hashlib.sha256(data + consent.recording.read_bytes() + consent.statement(language).encode())
    budget = f"{settings.enroll_budget_seconds:g}"  # another budget may find another voice
    cache = models.cache_dir / "enrolled" / f"{digest.hexdigest()[:32]}-{language}-{budget}.npz"
    if cache.is_file():
        return VoiceState.from_bytes(cache.read_bytes())
    try:
        consent_audio = decode_audio(consent.recording.read_bytes())
        cleaned = clean_reference(data, speaker_encoder=models.encoder, language=language,
                                  language_id=models.transcriber)
    except ReferenceRejected as exc:
        raise SystemExit(f"narrator: recording rejected: {exc}") from exc
    verdict = check_statement(models, *consent_audio, consent.statement(language), language,
                              settings.consent_max_error_rate, key_phrases(consent.speaker, consent.company, None))
    _, mismatch = same_speaker(models, consent_audio, (cleaned.audio, 24000), settings.consent_speaker_threshold)
    if verdict["reason"] or mismatch:
        raise SystemExit(f"narrator: consent not verified: {verdict['reason'] or mismatch}")
    state = models.enroll(cleaned.audio, 24000, language)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(state.to_bytes())
    return state


def cmd_say(args: argparse.Namespace) -> int:
    """Speak one text. Loads only what the request needs: the engine and the frontend for a
    voice file or a stock voice; Whisper and the speaker encoder only to enroll a reference
    or when the gate is asked for (``--check``). ``-o -`` streams WAV to stdout as it renders."""
    from worker.tts.synthesis.audio import to_wav_bytes
    from worker.tts.synthesis.pipeline import SynthesisConfig

    if bool(args.reference) == bool(args.voice):
        raise SystemExit("narrator say: give exactly one of --reference REF.wav or --voice VOICE.npz|STOCK_NAME")
    streaming = args.output == "-"
    if streaming and args.check:
        raise SystemExit("narrator say: -o - streams the audio as it renders; the gate (--check) needs the whole")
    settings = _settings(args)
    models = _load_models(settings)
    if args.voice:
        state = _voice_state(models, args.voice, gated=args.check)
    else:
        reference = Path(args.reference)
        language = args.language or _spoken_language(models, reference)
        state = _enroll_file(models, settings, reference, language, LocalConsent.from_args(args))
    config = SynthesisConfig(speed=args.speed)
    if streaming:
        from shared.speech_channel import pcm16, streaming_wav_header

        out = sys.stdout.buffer
        out.write(streaming_wav_header(models.engine.sample_rate))
        seconds = 0.0
        for piece in models.synthesizer.stream_audio(models.frontend.analyze(args.text), state, config):
            out.write(pcm16(piece))
            out.flush()
            seconds += len(piece) / models.engine.sample_rate
        print(f"streamed {seconds:.2f} s to stdout; quality gate: not run", file=sys.stderr)
        return 0
    if not args.check:
        rendered = models.synthesizer.render(args.text, state, config)
        verdict = "not run (ask with --check)"
    else:
        from prometheus_client import CollectorRegistry

        from shared.metrics import Metrics
        from worker.jobs import render_checked

        # The batch path's gate, best of NARRATOR_GATE_ATTEMPTS: what a catalogue item would get.
        rendered, report = render_checked(models, Metrics(CollectorRegistry()), models.frontend.analyze(args.text),
                                          state, args.speed)
        verdict = "passed" if report.passed else "needs review: " + " ".join(report.reasons)
        print(json.dumps({"quality": report.to_dict()}, ensure_ascii=False), file=sys.stderr)
    Path(args.output).write_bytes(to_wav_bytes(rendered.audio, rendered.sample_rate))
    print(f"wrote {args.output} ({rendered.duration_s:.2f} s); quality gate: {verdict}")
    return 0


def _voice_state(models, voice: str, gated: bool):  # type: ignore[no-untyped-def]
    """``--voice``: a voice file, or the name of a stock voice (``narrator say --voice zf_xiaoxiao``)."""
    from shared import stock_voices
    from worker.tts.synthesis.voice import VoiceState

    path = Path(voice)
    if not path.is_file() and stock_voices.find(models.cache_dir, voice) is not None:
        return models.stock_voice(voice, gated=gated)
    if not path.is_file():
        names = ", ".join(v.name for v in stock_voices.catalogue(models.cache_dir))
        raise SystemExit(f"narrator say: --voice {voice!r} is neither a voice file nor a stock voice ({names})")
    return VoiceState.from_bytes(path.read_bytes())


def _spoken_language(models, reference: Path) -> str:  # type: ignore[no-untyped-def]
    """The language a reference is spoken in, as Whisper hears it (Chinese or English): the
    voice is enrolled, and its consent statement read, in that language."""
    from worker.tts.checks.decode import decode_audio

    audio, rate = decode_audio(reference.read_bytes())
    odds = models.transcriber.language_probabilities(audio, rate)
    return "en" if odds.get("en", 0.0) > odds.get("zh", 0.0) else "zh"


def cmd_enroll(args: argparse.Namespace) -> int:
    settings = _settings(args)
    models = _load_models(settings)
    state = _enroll_file(models, settings, Path(args.reference), args.language, LocalConsent.from_args(args))
    Path(args.output).write_bytes(state.to_bytes())
    print(json.dumps({"output": args.output, **state.metrics}, ensure_ascii=False))
    return 0


def cmd_qa(args: argparse.Namespace) -> int:
    from worker.tts.checks.reference import analyze_reference

    models = _load_models(_settings(args))
    result = analyze_reference(Path(args.reference).read_bytes(), speaker_encoder=models.encoder,
                               language=args.language, language_id=models.transcriber if args.language else None)
    print(json.dumps(result.report.to_dict(), ensure_ascii=False, indent=2))
    return 0 if result.report.decision != "reject" else 1


def cmd_consent_statement(args: argparse.Namespace) -> int:
    print(LocalConsent(Path("-"), args.speaker, args.company).statement(args.language))
    return 0


def cmd_text(args: argparse.Namespace) -> int:
    from worker.tts.text.cli import load_lexicon_csv, text_command

    lexicon = load_lexicon_csv(Path(args.lexicon)) if args.lexicon else None
    return text_command(args.text, as_json=args.json, lexicon=lexicon)


def cmd_api(args: argparse.Namespace) -> int:
    from api import create_app

    app = create_app(_settings(args))
    from werkzeug.serving import run_simple

    run_simple(args.host, args.port, app, threaded=True)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.embedded:
        raise SystemExit("narrator worker: set NARRATOR_BROKER_URL (e.g. redis://localhost:6379/0)")
    _limit_threads(settings.synth_threads)
    from worker.devices import DeviceUnavailable, plan_devices

    try:
        devices = plan_devices(settings.device)  # cuda without a GPU stops here, not on a CPU render
    except DeviceUnavailable as exc:
        raise SystemExit(f"narrator worker: {exc}") from exc
    logging.getLogger("worker.devices").info(
        "models run on: %s (NARRATOR_DEVICE=%s)", ", ".join(f"{k} {v}" for k, v in devices.as_dict().items()),
        settings.device)
    if settings.metrics_port:
        _serve_worker_metrics(settings, devices.as_dict())
    from worker.celery_app import make_celery

    app = make_celery(settings)
    argv = ["worker", "--loglevel", settings.log_level, "--queues", args.queues,
            "--concurrency", str(args.concurrency), "--pool", args.pool, "--without-gossip", "--without-mingle"]
    if args.hostname:
        argv += ["--hostname", args.hostname]
    app.worker_main(argv)
    return 0


def _limit_threads(threads: int) -> None:
    """A worker told to use N threads must use N cores. The models' own pools are sized
    explicitly (onnxruntime, CTranslate2, torch), but numpy's OpenBLAS and any OpenMP
    library start one thread per core by default: measured, a one-thread worker then used
    1.11 cores, and one process per core oversubscribed the machine. Set before numpy is
    first imported (this process and its prefork children inherit it); an operator's own
    setting wins."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))


def _serve_worker_metrics(settings: Settings, devices: dict[str, str]) -> None:
    """Every worker process writes its samples to a shared folder; this process serves the sum.

    The folder must be set before prometheus_client is first imported, hence here.
    """
    import tempfile

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="narrator-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    from prometheus_client import start_http_server

    from shared.metrics import worker_registry

    start_http_server(settings.metrics_port, registry=worker_registry(settings.broker_url, devices))


def cmd_beat(args: argparse.Namespace) -> int:
    from worker.celery_app import make_celery

    make_celery(_settings(args)).start(["beat", "--loglevel", "INFO"])
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade as the schema owner, grant the services' role its rows, sign an audit checkpoint."""
    from shared.migrate import migrate

    done = migrate(_settings(args))
    print(f"database at head: {done.owner_url.split('@')[-1]}")
    if done.services_role:
        print(f"services' role {done.services_role}: rows only (audit_events: insert and select)")
    if done.checkpoint_id is not None:
        print(f"audit checkpoint {done.checkpoint_id} signed")
    return 0


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from worker.tts.synthesis import assets

    settings = _settings(args)
    print(f"kokoro model: {assets.kokoro_model_path()}")
    print(f"voice packs:  {assets.fetch_voice_packs(settings.model_cache)}")
    if args.bank:
        models = _load_models(settings)
        print(f"voice bank:   {len(models.bank.names)} stock voices embedded")
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    from shared.db import make_engine, make_sessionmaker
    from shared.tenants import create_key, create_tenant, find_key, find_tenant, revoke_key, rotate_key

    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions.begin() as s:
        if args.admin_cmd == "create-tenant":
            tenant = create_tenant(s, args.name)
            print(tenant.id)
        elif args.admin_cmd == "create-key":
            key, secret = create_key(s, find_tenant(s, args.tenant), args.scope)
            print(f"key {key.prefix} ({args.scope}) for tenant {key.tenant_id}; shown once:")
            print(secret)
        elif args.admin_cmd == "rotate-key":
            old = find_key(s, args.prefix)
            key, secret = rotate_key(s, old, grace_seconds=args.grace)
            until = f"works until {old.expires_at.isoformat()}" if old.expires_at else "is revoked"
            print(f"key {args.prefix} {until}; new key {key.prefix} ({key.scope}) for tenant {key.tenant_id}; "
                  "shown once:")
            print(secret)
        elif args.admin_cmd == "revoke-key":
            revoke_key(s, find_key(s, args.prefix))
            print(f"revoked {args.prefix}")
        elif args.admin_cmd == "create-operator-key":
            from shared.operators import create_operator_key

            op_key, secret = create_operator_key(s, args.name)
            print(f"operator key {op_key.prefix} ({args.name}): reviews consents of every tenant; shown once:")
            print(secret)
        elif args.admin_cmd == "revoke-operator-key":
            from shared.operators import revoke_operator_key

            revoke_operator_key(s, args.prefix)
            print(f"revoked operator key {args.prefix}")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Recompute the audit hash chain; exit 1 where a row was changed, removed or reordered.
    With NARRATOR_AUDIT_HMAC_KEY, also against every signed checkpoint (a rewrite plus re-hash)."""
    from shared.audit import verify
    from shared.audit_anchor import verify_anchored
    from shared.db import make_engine, make_sessionmaker

    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    with sessions() as s:
        result = verify_anchored(s, settings.audit_hmac_key) if settings.audit_hmac_key else verify(s)
    print(json.dumps(result.to_dict()))
    return 0 if result.ok else 1


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    """Sign the audit chain's head (as the schema owner, with NARRATOR_AUDIT_HMAC_KEY)."""
    from shared.audit_anchor import write_checkpoint
    from shared.db import make_engine, make_sessionmaker

    settings = _settings(args)
    sessions = make_sessionmaker(make_engine(settings.migration_database_url or settings.database_url))
    with sessions.begin() as s:
        checkpoint = write_checkpoint(s, settings.audit_hmac_key)
        out = {"checkpoint": None} if checkpoint is None else {
            "checkpoint": checkpoint.id, "event_id": checkpoint.event_id, "rows": checkpoint.rows,
            "head": checkpoint.head_hash}
    print(json.dumps(out))
    return 0


def cmd_watermark_detect(args: argparse.Namespace) -> int:
    """Read the mark of a file narrator rendered; prints JSON, exit 1 when there is none
    (2 when the file cannot be read)."""
    from shared.secret_keys import SecretKeys
    from worker.tts.checks.decode import decode_audio
    from worker.tts.checks.reference_report import ReferenceRejected
    from worker.tts.synthesis.watermark import detect

    settings = _settings(args)
    try:
        audio, sample_rate = decode_audio(Path(args.file).read_bytes())
    except (OSError, ReferenceRejected) as exc:
        print(f"narrator: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2  # not 1, which says "read, and unmarked"
    found = detect(audio, sample_rate, SecretKeys.of(settings).watermark)
    prefix = found.payload.hex() if found.payload else None
    result: dict[str, Any] = {"found": found.found, "item_id_prefix": prefix, "confidence": round(found.confidence, 2)}
    if prefix:
        result.update(_watermarked_item(settings, prefix))
    print(json.dumps(result))
    return 0 if found.found else 1


def _watermarked_item(settings: Settings, prefix: str) -> dict[str, Any]:
    """The item a mark names (with its tenant and voice version), when this deployment's
    database is reachable and holds exactly one item with that id prefix; else nothing."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from shared.db import make_engine
    from shared.models import Item

    url = settings.database_url
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
        return {}  # no embedded database here: do not create one just to look
    pattern = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-%"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Item.id, Item.tenant_id, Item.voice_version_id)
                                .where(Item.id.like(pattern)).limit(2)).all()
    except SQLAlchemyError as exc:
        log.warning("watermark: item not looked up, the database is not usable (%s)", type(exc).__name__)
        return {}
    finally:
        engine.dispose()
    if len(rows) != 1:
        return {}
    return {"item_id": rows[0].id, "tenant_id": rows[0].tenant_id, "voice_version_id": rows[0].voice_version_id}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="narrator", description="Consented voice cloning and batch narration.")
    p.add_argument("--data-dir", help="embedded mode's folder (default ~/.local/share/narrator)")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="render a catalogue CSV in a cloned voice into a folder (embedded)")
    r.add_argument("catalog")
    r.add_argument("--reference", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--language", default="zh", choices=["zh", "en"])
    r.add_argument("--speed", type=speed_arg, default=1.0)
    add_consent_args(r)
    r.set_defaults(fn=cmd_render)

    s = sub.add_parser("say", help="speak one text in a voice")
    s.add_argument("text")
    s.add_argument("--reference")
    s.add_argument("--voice", help="a voice file (narrator enroll), or a stock voice's name, e.g. zf_xiaoxiao")
    s.add_argument("-o", "--output", required=True, help="a WAV file, or - to stream WAV to stdout as it renders")
    s.add_argument("--language", choices=["zh", "en"],
                   help="override the reference's language (else Whisper hears it; the text's own languages "
                        "are always read from the text)")
    s.add_argument("--speed", type=speed_arg, default=1.0)
    s.add_argument("--check", action="store_true",
                   help="run the batch path's quality gate (speech recognition, speaker similarity, best of N)")
    s.add_argument("--no-check", action="store_false", dest="check", help="skip the gate (the default)")
    add_consent_args(s)
    s.set_defaults(fn=cmd_say)

    e = sub.add_parser("enroll", help="turn a reference recording into a voice file")
    e.add_argument("reference")
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--language", default="zh", choices=["zh", "en"])
    add_consent_args(e)
    e.set_defaults(fn=cmd_enroll)

    cs = sub.add_parser("consent-statement", help="print the statement a speaker reads to consent (CLI form)")
    cs.add_argument("--speaker", required=True)
    cs.add_argument("--company", required=True)
    cs.add_argument("--language", default="zh", choices=["zh", "en"])
    cs.set_defaults(fn=cmd_consent_statement)

    q = sub.add_parser("qa", help="print the reference-audio quality report")
    q.add_argument("reference")
    q.add_argument("--language", choices=["zh", "en"],
                   help="the voice's language: also check that the recording is spoken in it")
    q.set_defaults(fn=cmd_qa)

    t = sub.add_parser("text", help="show how the frontend reads a text (one per stdin line without TEXT)")
    t.add_argument("text", nargs="?")
    t.add_argument("--json", action="store_true")
    t.add_argument("--lexicon", metavar="FILE.csv", help="apply a lexicon CSV (word,reading,language,voice_id)")
    t.set_defaults(fn=cmd_text)

    a = sub.add_parser("api", help="serve the HTTP API")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, default=8000)
    a.set_defaults(fn=cmd_api)

    w = sub.add_parser("worker", help="run a Celery worker")
    w.add_argument("--queues", default="housekeeping,interactive,purge,webhooks,enroll,synth,finetune",
                   help="consumed in this order: an earlier queue's tasks go first")
    w.add_argument("--concurrency", type=int, default=1)
    w.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    w.add_argument("--hostname")
    w.set_defaults(fn=cmd_worker)

    b = sub.add_parser("beat", help="run the Celery beat scheduler")
    b.set_defaults(fn=cmd_beat)

    m = sub.add_parser("migrate", help="upgrade the schema to head as its owner; grant the services' role rows")
    m.set_defaults(fn=cmd_migrate)

    models = sub.add_parser("models", help="model files")
    msub = models.add_subparsers(dest="models_cmd", required=True)
    f = msub.add_parser("fetch", help="put the model files into the cache (set-up time)")
    f.add_argument("--bank", action="store_true", help="also embed the stock voices (takes a minute or two)")
    f.set_defaults(fn=cmd_models_fetch)

    adm = sub.add_parser("admin", help="tenants, API keys and operator keys")
    asub = adm.add_subparsers(dest="admin_cmd", required=True)
    ct = asub.add_parser("create-tenant")
    ct.add_argument("name")
    ck = asub.add_parser("create-key")
    ck.add_argument("tenant")
    ck.add_argument("--scope", default="write", choices=["read", "write", "admin"])
    rk = asub.add_parser("revoke-key")
    rk.add_argument("prefix")
    rot = asub.add_parser("rotate-key", help="a new key with the same tenant and scope; the old one is revoked")
    rot.add_argument("prefix")
    rot.add_argument("--grace", type=int, default=0, metavar="SECONDS",
                     help="keep the old key working this long, so clients can switch over")
    cok = asub.add_parser("create-operator-key",
                          help="a key of the deployment's operator (no tenant): reviews consents no machine can check")
    cok.add_argument("name", help="who holds it (shown in the audit trail's operator_key.created row)")
    rok = asub.add_parser("revoke-operator-key")
    rok.add_argument("prefix")
    adm.set_defaults(fn=cmd_admin)

    au = sub.add_parser("audit", help="the audit trail")
    ausub = au.add_subparsers(dest="audit_cmd", required=True)
    av = ausub.add_parser("verify", help="check the audit hash chain; prints JSON, exit 1 if broken")
    av.set_defaults(fn=cmd_audit_verify)
    ac = ausub.add_parser("checkpoint", help="sign the chain's head with NARRATOR_AUDIT_HMAC_KEY (as the owner)")
    ac.set_defaults(fn=cmd_audit_checkpoint)
    wm = sub.add_parser("watermark", help="the inaudible mark in every rendered file")
    wmsub = wm.add_subparsers(dest="watermark_cmd", required=True)
    wd = wmsub.add_parser("detect", help="which item a file came from; prints JSON, exit 1 if unmarked")
    wd.add_argument("file")
    wd.set_defaults(fn=cmd_watermark_detect)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from shared.logs import configure_logging

    service = args.command in ("api", "worker", "beat", "migrate")
    configure_logging(os.environ.get("NARRATOR_LOG_LEVEL", "INFO" if service else "WARNING"))
    from shared.errors import NarratorError
    from shared.secret_keys import WeakSecret

    try:
        return int(args.fn(args) or 0)
    except NarratorError as exc:
        print(f"narrator: {exc.reason}", file=sys.stderr)
        return 2
    except WeakSecret as exc:  # a service refusing to start: say which variable, not a traceback
        print(f"narrator: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
