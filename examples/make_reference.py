"""Regenerate examples/reference.wav and examples/consent.wav, the recordings narrator ships.

It is synthetic on purpose: a voice narrator may legally ship. It is rendered by
Kokoro-82M (Apache-2.0) with a blend of two of its stock Chinese voice packs, pitched
down a little, so that it is not identical to any single stock voice. Run:
``.venv/bin/python examples/make_reference.py``.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np

from shared.consent import statement
from shared.settings import Settings
from worker.model_cache import ModelCache
from worker.tts.synthesis import assets
from worker.tts.synthesis.audio import to_wav_bytes
from worker.tts.synthesis.voice import VoiceState

SPEAKER = "林小雨"
COMPANY = "星光电器"
TEXT = (
    "大家好，我是今天的讲解员。接下来的几分钟里，我会为您介绍我们店里最受欢迎的几款产品。"
    "每一款都经过了仔细的挑选和测试，无论是在家里还是在办公室，都能让您的生活更加方便。"
    "如果您有任何问题，欢迎随时联系我们的客服，我们会尽快为您解答。"
)


def example_speaker(models: ModelCache, text: str) -> bytes:
    """The example speaker saying ``text``, as WAV bytes: tests use it to record consent statements."""
    cache = models.cache_dir
    style = 0.6 * assets.load_voice_pack(cache, "zf_xiaoyi") + 0.4 * assets.load_voice_pack(cache, "zf_xiaoni")
    state = VoiceState(style=style.astype(np.float32), embedding=np.zeros(256, np.float32), language="zh",
                       method="example", engine_version=models.engine.version)
    rendered = models.synthesizer.render(text, state)
    audio = librosa.effects.pitch_shift(rendered.audio, sr=rendered.sample_rate, n_steps=-1.0)
    return to_wav_bytes(0.8 * audio / max(1e-6, float(np.abs(audio).max())), rendered.sample_rate)


def main() -> None:
    models = ModelCache(Settings.from_env())
    here = Path(__file__).parent
    (here / "reference.wav").write_bytes(example_speaker(models, TEXT))
    (here / "consent.wav").write_bytes(example_speaker(models, statement("zh", SPEAKER, COMPANY, None)))
    print(f"wrote {here / 'reference.wav'} and {here / 'consent.wav'}")


if __name__ == "__main__":
    main()
