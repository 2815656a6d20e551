"""The nightly fine-tune: a tenant's corrections in, a candidate adapter out, promoted
only if it earns it.

A candidate is trained on most of the tenant's corrections plus replayed base data
(dictionary phrases with the same characters, read as the dictionary reads them — not
the tenant's own texts, whose readings of those characters are the suspects), then
judged by the whole frontend, as renders will use it:

* on the held-out corrections — contexts it never saw — it must read more of them right
  than the frontend does without it;
* on the judging half of the fixed base regression set it may lose at most
  ``MAX_BASE_DROP`` points (the other half helps choose which characters it may read).

Anything else is recorded as the reason it was not promoted.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from pypinyin import Style, lazy_pinyin
from pypinyin.phrases_dict import phrases_dict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared import storage_keys
from shared.audit import record
from shared.dispatch import FINETUNE
from shared.errors import Conflict, InvalidInput
from shared.finetune import LEARNABLE, create_run, last_correction_at, nightly_due, schedule_of
from shared.models import Feedback, FinetuneRun, FinetuneStatus, Item, Tenant, utcnow
from worker.context import WorkerContext
from worker.tts.evaluation.frontend_eval import Case, evaluate, load_cases
from worker.tts.text.frontend import Frontend
from worker.tts.text.polyphone_lora import Example, TrainConfig, adapter_bytes, train_adapter, with_adapter
from worker.tts.text.polyphone_model import LearnedPolyphones, PolyphoneModel
from worker.tts.text.zh_g2p import HAN_RUN

log = logging.getLogger(__name__)

BASE_SET = Path(__file__).resolve().parent.parent / "tts" / "data" / "base_regression.tsv"
MAX_BASE_DROP = 0.2  # accuracy points on the base regression set
HELD_OUT_SHARE = 0.25
PHRASES_PER_CHAR = 150
MAX_PHRASE_DROP = 0.02  # a learned character may misread at most this share more dictionary phrases


@dataclass(frozen=True)
class Correction:
    """A reviewer's accepted reading of ``text[start:end]`` (one pinyin syllable per character)."""

    key: str  # the feedback row it came from
    text: str
    start: int
    end: int
    reading: str


@dataclass
class GateReport:
    promoted: bool
    reason: str
    chars: list[str]
    trained_on: int
    held_out: int
    corrections_before: float
    corrections_after: float
    base_before: float
    base_after: float
    train_seconds: float
    examples: dict[str, int] = field(default_factory=dict)
    dropped_chars: list[str] = field(default_factory=list)  # learned, but worse on untaught phrases
    left_to_lexicon: list[str] = field(default_factory=list)  # corrected inside one word only (one_word_chars)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def examples_from(model: PolyphoneModel, corrections: Iterable[Correction]) -> list[tuple[str, Example]]:
    """(split key, example) for each polyphonic character a correction reads; the
    sentence is the run of Chinese characters around it, as the frontend will see it."""
    out: list[tuple[str, Example]] = []
    for c in corrections:
        syllables = c.reading.split()
        span = c.text[c.start : c.end]
        if len(syllables) != len(span):
            continue
        for run in HAN_RUN.finditer(c.text):
            for offset, (char, syllable) in enumerate(zip(span, syllables)):
                pos = c.start + offset
                if run.start() <= pos < run.end() and model.is_polyphone(char):
                    out.append((f"{c.text}|{c.start}", Example(run.group(0), pos - run.start(), syllable)))
    return out


def one_word_chars(corrections: Iterable[Correction]) -> set[str]:
    """Characters marked only ever inside the same word of two or more characters (a brand
    such as 还呗). They are the lexicon's business: its entry reads that word right wherever
    it appears, and one word gives the adapter no other context to learn from, only a pull
    on a common character (还) that costs it everywhere else. A character marked alone, or
    in several words, is taught."""
    spans: dict[str, set[str]] = {}
    for c in corrections:
        span = c.text[c.start : c.end]
        for char in span:
            spans.setdefault(char, set()).add(span)
    return {char for char, seen in spans.items() if len(seen) == 1 and len(next(iter(seen))) > 1}


def held_out(key: str) -> bool:
    """A fixed quarter of corrections, chosen by their text and span (so the same correction
    is held out in every run, and a re-marked one too), is never trained on."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < HELD_OUT_SHARE


def split(keyed: list[tuple[str, Example]]) -> tuple[list[Example], list[Example]]:
    keys = sorted({k for k, _ in keyed})
    held = {k for k in keys if held_out(k)}
    if not held and len(keys) >= 2:
        held = {keys[-1]}  # too few for the hash to pick one: still never judge on training data
    if held == set(keys):
        held = set(keys[: len(keys) // 2]) if len(keys) >= 2 else set()
    return [e for k, e in keyed if k not in held], [e for k, e in keyed if k in held]


def phrase_replay(model: PolyphoneModel, chars: set[str], per_char: int, seed: int) -> list[Example]:
    """Dictionary phrases with a learned character, read as the dictionary reads them: the
    contexts the adapter must leave alone."""
    rng = random.Random(seed)
    out: list[Example] = []
    for char in sorted(chars):
        phrases = sorted(p for p in phrases_dict if char in p and 2 <= len(p) <= 4)
        for phrase in rng.sample(phrases, min(per_char, len(phrases))):
            readings = lazy_pinyin(phrase, style=Style.TONE3, neutral_tone_with_five=True)
            if len(readings) == len(phrase):
                index = phrase.index(char)
                out.append(Example(phrase, index, readings[index]))
    return out


def reads_right(frontend: Frontend, example: Example) -> bool:
    pinyin = frontend.analyze(example.sentence).pinyin()
    return len(pinyin) == len(example.sentence) and pinyin[example.index][1] == example.reading


def frontend_accuracy(frontend: Frontend, examples: list[Example]) -> float:
    """Share of examples the whole frontend reads as expected."""
    if not examples:
        return 1.0
    return sum(reads_right(frontend, e) for e in examples) / len(examples)


def base_accuracy(frontend: Frontend, cases: list[Case]) -> float:
    if not cases:
        return 100.0
    return float(evaluate(frontend, cases)["accuracy"]) * 100  # type: ignore[arg-type]


def kept_chars(frontend: Frontend, adapted: PolyphoneModel, chars: set[str], replay: list[Example],
               tuning: list[Case], seed: int) -> set[str]:
    """The learned characters the adapter may read: each is checked on dictionary phrases
    it was not trained on (outside the replay) and on the tuning half of the base set, and a
    character that reads either worse than the frontend did is left to the frontend. The
    other half of the base set stays the gate's own judge, never used for this choice."""
    trained = set(replay)
    probes = [e for e in phrase_replay(adapted, chars, PHRASES_PER_CHAR, seed + 1) if e not in trained]
    kept: set[str] = set()
    for char in chars:
        own = [e for e in probes if e.sentence[e.index] == char]
        alone = frontend.with_learned(LearnedPolyphones(adapted, frozenset({char}), 0))
        cases = [c for c in tuning if char in c.text]
        if (frontend_accuracy(alone, own) >= frontend_accuracy(frontend, own) - MAX_PHRASE_DROP
                and base_accuracy(alone, cases) >= base_accuracy(frontend, cases)):
            kept.add(char)
    return kept


def train_candidate(frontend: Frontend, model: PolyphoneModel, corrections: list[Correction],
                    version: int = 1, base_cases: list[Case] | None = None,
                    config: TrainConfig | None = None) -> tuple[bytes | None, GateReport]:
    """Train on the corrections, judge on held-out ones and the base set; the adapter's
    bytes come back only when the gate promotes it."""
    config = config or TrainConfig()
    keyed = examples_from(model, corrections)
    # Only characters the frontend actually misread are learned: a correction of 曾经理 also
    # spells out 经 and 理, which were already right and are none of the adapter's business.
    misread = {e.sentence[e.index] for _, e in keyed if not reads_right(frontend, e)}
    lexicon_only = one_word_chars(corrections) & misread
    chars = misread - lexicon_only
    keyed = [(k, e) for k, e in keyed if e.sentence[e.index] in chars]
    train, held = split(keyed)
    every_case = base_cases if base_cases is not None else load_cases(BASE_SET)
    tuning, cases = every_case[0::2], every_case[1::2]  # choose characters on one half, judge on the other
    before_base = base_accuracy(frontend, cases)
    report = GateReport(promoted=False, reason="", chars=sorted(chars), trained_on=len(train), held_out=len(held),
                        corrections_before=frontend_accuracy(frontend, held), corrections_after=0.0,
                        base_before=before_base, base_after=before_base, train_seconds=0.0,
                        left_to_lexicon=sorted(lexicon_only))
    if not chars and lexicon_only:
        report.reason = (f"every misread character was marked inside one word only ({''.join(sorted(lexicon_only))}): "
                         "the lexicon reads those words; nothing to generalize")
        return None, report
    if not train or not held:
        report.reason = (f"not enough corrections of polyphonic characters to train and judge "
                         f"({len(train)} to train on, {len(held)} held out; at least one of each)")
        return None, report
    replay = phrase_replay(model, chars, PHRASES_PER_CHAR, config.seed)
    report.examples = {"corrections": len(train), "replay": len(replay)}
    started = time.perf_counter()
    data = adapter_bytes(train_adapter(model, train, replay, config), config)
    report.train_seconds = round(time.perf_counter() - started, 2)
    adapted_model = with_adapter(model, data)
    kept = kept_chars(frontend, adapted_model, chars, replay, tuning, config.seed)
    report.chars, report.dropped_chars = sorted(kept), sorted(chars - kept)
    if not kept:
        report.reason = f"every learned character misread dictionary phrases it was not taught ({''.join(sorted(chars))})"
        return None, report
    adapted = frontend.with_learned(LearnedPolyphones(adapted_model, frozenset(kept), version))
    report.corrections_after = frontend_accuracy(adapted, held)
    report.base_after = base_accuracy(adapted, cases)
    drop = report.base_before - report.base_after
    if report.corrections_after <= report.corrections_before:
        report.reason = (f"held-out corrections did not improve ({report.corrections_before:.1%} before, "
                         f"{report.corrections_after:.1%} after)")
    elif drop > MAX_BASE_DROP:
        report.reason = f"base accuracy dropped {drop:.2f} points (at most {MAX_BASE_DROP} allowed)"
    else:
        report.promoted = True
        report.reason = (f"held-out corrections {report.corrections_before:.1%} → {report.corrections_after:.1%}, "
                         f"base {report.base_before:.2f} → {report.base_after:.2f}")
    return (data if report.promoted else None), report


# -- the jobs ------------------------------------------------------------------------


def run_finetune(ctx: WorkerContext, run_id: str) -> str:
    """Train the tenant's next adapter and let the gate decide; every outcome is a row."""
    with ctx.sessions.begin() as s:
        run = s.get(FinetuneRun, run_id)
        if run is None or run.status != FinetuneStatus.queued.value:
            return "skipped"  # a redelivered message for a run that already ran
        run.status = FinetuneStatus.running.value
        tenant_id, version = run.tenant_id, run.version
        corrections = tenant_corrections(s, tenant_id)
    try:
        models = ctx.models
        data, report = train_candidate(models.frontend, models.polyphone_model, corrections, version,
                                       config=TrainConfig(device=models.devices.torch))
    except Exception as exc:
        with ctx.sessions.begin() as s:
            run = s.get(FinetuneRun, run_id)
            run.status, run.reason, run.finished_at = FinetuneStatus.failed.value, f"{type(exc).__name__}: {exc}", utcnow()
        raise
    key = storage_keys.adapter_key(tenant_id, version) if data is not None else None
    if data is not None and key is not None:
        ctx.storage.put(key, data, "application/octet-stream")
    with ctx.sessions.begin() as s:
        run = s.get(FinetuneRun, run_id)
        run.metrics, run.reason, run.finished_at = report.to_json(), report.reason, utcnow()
        run.status = (FinetuneStatus.promoted if data is not None else FinetuneStatus.rejected).value
        run.adapter_key = key
        run.adapter_sha256 = hashlib.sha256(data).hexdigest() if data is not None else None
        record(s, tenant_id, "worker", "model.promoted" if data is not None else "model.rejected",
               "finetune_run", run_id, version=version, reason=report.reason)
    status = (FinetuneStatus.promoted if data is not None else FinetuneStatus.rejected).value
    log.info("fine-tune %s v%d %s: %s", run_id, version, status, report.reason)
    return status


def tenant_corrections(session: Session, tenant_id: str) -> list[Correction]:
    rows = session.execute(select(Feedback, Item.text).join(Item, Item.id == Feedback.item_id).where(
        Feedback.tenant_id == tenant_id, Feedback.state.in_(LEARNABLE), Feedback.reading.is_not(None),
        Feedback.language == "zh"))
    return [Correction(f.id, text, f.span_start, f.span_end, f.reading or "") for f, text in rows]


def start_due_finetunes(ctx: WorkerContext, now: datetime | None = None) -> list[str]:
    """Beat, every few minutes: queue the nightly run of each tenant that is due, at the
    tenant's own hour and time zone (or the deployment's ``finetune_hour_utc`` in UTC)."""
    now = now or utcnow()
    queued: list[str] = []
    with ctx.sessions.begin() as s:
        for tenant in s.scalars(select(Tenant).where(Tenant.finetune_enabled.is_(True))).all():
            tenant_id, nightly = tenant.id, schedule_of(tenant, ctx.settings.finetune_hour_utc)
            last_run = s.scalar(select(func.max(FinetuneRun.created_at)).where(FinetuneRun.tenant_id == tenant_id))
            try:
                due = nightly_due(now, nightly.hour, last_run, last_correction_at(s, tenant_id),
                                  timezone=nightly.timezone, enabled=nightly.enabled)
            except InvalidInput:  # a zone this host's tz database does not know (the API checked it)
                log.error("tenant %s: fine-tune time zone %r is unknown here; no nightly run", tenant_id,
                          nightly.timezone)
                continue
            if due:
                try:
                    with s.begin_nested():
                        queued.append(create_run(s, tenant_id, "nightly", "beat").id)
                except Conflict:
                    continue  # one is already queued or running
    for run_id in queued:
        ctx.queue.send(FINETUNE, run_id)
    return queued
