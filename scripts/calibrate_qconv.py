"""Write worker/tts/synthesis/qconv_scales.json: the output peaks of the convolutions that
worker.tts.synthesis.qconv_graph converts, measured on the model in the cache.

Run it when the Kokoro model changes (the table names the checksum it was made for; another
model gets only the exact matrix-product conversion until this is run):

    .venv/bin/python scripts/calibrate_qconv.py        # ~2 min on 2 cores

The voices and texts here are the calibration set; the held-out comparison (other voices,
other texts, blends, speeds, pitch maps) is bench/engine_graphs.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.settings import Settings
from worker.tts.synthesis import assets
from worker.tts.synthesis.engine import KokoroEngine, rewritten_graph
from worker.tts.synthesis.norm_graph import norm_model_path
from worker.tts.synthesis.qconv_graph import SCALES, calibrate
from worker.tts.text.frontend import Frontend

VOICES = ("af_heart", "am_adam", "bf_emma", "zf_xiaoxiao", "zm_yunxi", "jf_alpha", "hm_omega", "ff_siwis")
TEXTS = (
    "今天我们来聊一聊如何在家里做一杯好喝的咖啡。",
    "The new model runs on a laptop without a graphics card.",
    "请在下单之前确认收货地址和联系电话！",
    "我昨天用 iPhone 拍了几张照片，效果比想象中好。",
    "Please keep your receipt until the package arrives.",
    "这本书一共有三百二十页，我花了两个星期才读完。",
    "Wow! That was loud, wasn't it?",
    "周末的时候，很多人喜欢去郊外爬山或者骑自行车。",
    "打开 App 以后，点击右上角的设置按钮就可以了。",
    "If you have any questions, just send us an email.",
    "好。",
    "Thirty-seven point five percent, as of March the ninth.",
)


def main() -> None:
    settings = Settings.from_env()
    snake, stem = rewritten_graph(settings, "int8")
    source = norm_model_path(settings.model_cache, snake, stem)  # the graph the conversion is built on
    engine = KokoroEngine(source, assets.kokoro_vocab(), version=stem)
    frontend = Frontend()
    phonemes = [s.phonemes for text in TEXTS for s in frontend.analyze(text).sentences]
    feeds = (engine.feeds(p, assets.load_voice_pack(settings.model_cache, voice))
             for voice in VOICES for p in phonemes)
    peaks = calibrate(source, (f for f in feeds if f is not None))
    table = {"model_sha256": assets.kokoro_model_sha256(), "voices": list(VOICES), "texts": len(TEXTS),
             "peaks": {name: round(peak, 4) for name, peak in sorted(peaks.items())}}
    SCALES.write_text(json.dumps(table, indent=1) + "\n")
    print(f"{len(peaks)} layers → {SCALES}")


if __name__ == "__main__":
    main()
