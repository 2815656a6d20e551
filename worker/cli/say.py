"""``narrator say``: one text in one voice, to a WAV file or streamed to stdout."""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shared import stock_voices
from shared.speech_channel import pcm16, streaming_wav_header
from worker.cli.options import settings_for
from worker.model_cache import ModelCache
from worker.tts.synthesis.audio import to_wav_bytes
from worker.tts.synthesis.pipeline import SynthesisConfig
from worker.tts.synthesis.voice import VoiceState
from worker.tts.text.analysis import Analysis

# Below this many characters (~13 s of English, ~45 s of Chinese) the Snake operator's load (~0.5 s:
# numba) costs more than its ~17 % of the engine's time saves: the engine runs the plain graph,
# which renders the same samples.
SNAKE_OPERATOR_MIN_CHARS = 200
# Below this many characters the second engine session that renders sentences side by side
# (~0.8 s to build) costs what it saves: a 244-character English text (13 s of audio) took the
# same wall time either way, a 734-character one (41 s) 0.89 × (3 alternated runs each).
SIDE_BY_SIDE_MIN_CHARS = 500


def run(args: argparse.Namespace) -> int:
    """Speak one text. Loads only what the request needs: the engine and the frontend for a
    voice file or a stock voice (and of the frontend, only the languages the text is written
    in); Whisper and the speaker encoder only to enroll a reference
    or when the gate is asked for (``--check``). ``-o -`` streams WAV to stdout as it renders."""
    if bool(args.reference) == bool(args.voice):
        raise SystemExit("narrator say: give exactly one of --reference REF.wav or --voice VOICE.npz|STOCK_NAME")
    streaming = args.output == "-"
    if streaming and args.check:
        raise SystemExit("narrator say: -o - streams the audio as it renders; the gate (--check) needs the whole")
    settings = settings_for(args)
    settings = settings.with_(snake_operator=settings.snake_operator and len(args.text) >= SNAKE_OPERATOR_MIN_CHARS,
                              render_side_by_side=settings.render_side_by_side
                              and len(args.text) >= SIDE_BY_SIDE_MIN_CHARS)
    models = ModelCache(settings)
    analysis = analyze_while_engine_loads(models, args.text)
    if args.voice:
        state = voice_state(models, args.voice, gated=args.check)
    else:
        from worker.cli.consent import LocalConsent  # deferred: enrollment's checks load only to enroll
        from worker.cli.enroll import enroll_file  # deferred: as above

        reference = Path(args.reference)
        language = args.language or spoken_language(models, reference)
        state = enroll_file(models, settings, reference, language, LocalConsent.from_args(args))
    config = SynthesisConfig(speed=args.speed)
    if streaming:
        return _stream(models, analysis, state, config)
    if not args.check:
        rendered = models.synthesizer.render_analysis(analysis, state, config)
        verdict = "not run (ask with --check)"
    else:
        from prometheus_client import CollectorRegistry  # deferred: the gate's imports load only with --check

        from shared.metrics import Metrics  # deferred: as above
        from worker.jobs.render import render_checked  # deferred: as above

        # The batch path's gate, best of NARRATOR_GATE_ATTEMPTS: what a catalogue item would get.
        rendered, report = render_checked(models, Metrics(CollectorRegistry()), analysis, state, args.speed)
        verdict = "passed" if report.passed else "needs review: " + " ".join(report.reasons)
        print(json.dumps({"quality": report.to_dict()}, ensure_ascii=False), file=sys.stderr)
    Path(args.output).write_bytes(to_wav_bytes(rendered.audio, rendered.sample_rate))
    print(f"wrote {args.output} ({rendered.duration_s:.2f} s); quality gate: {verdict}")
    return 0


def analyze_while_engine_loads(models: ModelCache, text: str) -> Analysis:
    """The text's analysis, made while another thread loads the engine: building the session is
    onnxruntime's C++ and lets go of the GIL, so on two cores its ~1 s hides behind the
    frontend's imports and lexicons instead of adding to them."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        engine = pool.submit(lambda: models.engine)
        analysis = models.frontend.analyze(text)
        engine.result()
    return analysis


def _stream(models: ModelCache, analysis: Analysis, state: VoiceState, config: SynthesisConfig) -> int:
    """WAV to stdout piece by piece, as the synthesizer yields it (no gate: it needs the whole)."""
    out = sys.stdout.buffer
    out.write(streaming_wav_header(models.engine.sample_rate))
    seconds = 0.0
    for piece in models.synthesizer.stream_audio(analysis, state, config):
        out.write(pcm16(piece))
        out.flush()
        seconds += len(piece) / models.engine.sample_rate
    print(f"streamed {seconds:.2f} s to stdout; quality gate: not run", file=sys.stderr)
    return 0


def voice_state(models: ModelCache, voice: str, gated: bool) -> VoiceState:
    """``--voice``: a voice file, or the name of a stock voice (``narrator say --voice zf_xiaoxiao``)."""
    path = Path(voice)
    if not path.is_file() and stock_voices.find(models.cache_dir, voice) is not None:
        return models.stock_voice(voice, gated=gated)
    if not path.is_file():
        names = ", ".join(v.name for v in stock_voices.catalogue(models.cache_dir))
        raise SystemExit(f"narrator say: --voice {voice!r} is neither a voice file nor a stock voice ({names})")
    return VoiceState.from_bytes(path.read_bytes())


def spoken_language(models: ModelCache, reference: Path) -> str:
    """The language a reference is spoken in, as Whisper hears it (Chinese or English): the
    voice is enrolled, and its consent statement read, in that language."""
    from worker.tts.checks.decode import decode_audio  # deferred: only a reference is decoded

    audio, rate = decode_audio(reference.read_bytes())
    odds = models.transcriber.language_probabilities(audio, rate)
    return "en" if odds.get("en", 0.0) > odds.get("zh", 0.0) else "zh"
