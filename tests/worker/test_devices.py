"""The GPU code path, run where the tests run (no GPU here): ``NARRATOR_DEVICE`` planning on the
real runtimes, the worker refusing ``cuda`` without a GPU, the devices in /metrics, and the
float graph the CUDA provider would load, run on the CPU provider and compared with the int8
graph by speaker similarity and speech recognition."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from shared.settings import Settings
from tests.support.devservices import WorkerProcess, settings_env
from worker.devices import DevicePlan, DeviceUnavailable, gpu_runtimes, nvidia_driver_present, plan_devices

ROOT = Path(__file__).resolve().parents[2]
TEXT = "今天的新品已经到货，欢迎大家来店里看看。"


def test_cpu_is_cpu_and_auto_falls_back_without_a_gpu() -> None:
    assert plan_devices("cpu") == DevicePlan("cpu", "cpu", "cpu")
    if any(gpu_runtimes().values()):  # some runtime sees no GPU (this machine: none does)
        assert plan_devices("auto") == DevicePlan("cpu", "cpu", "cpu")
    with pytest.raises(ValueError, match="NARRATOR_DEVICE"):
        plan_devices("gpu")
    with pytest.raises(ValueError, match="NARRATOR_DEVICE"):
        Settings(device="gpu")


def test_auto_without_an_nvidia_driver_plans_the_cpu_without_importing_the_runtimes() -> None:
    """A CPU-only process (``narrator say``) should not pay torch's import to learn there is no GPU."""
    if nvidia_driver_present():
        pytest.skip("this machine has an NVIDIA driver: auto must ask the runtimes")
    probe = ("import sys; from worker.devices import plan_devices; plan = plan_devices('auto'); "
             "print(plan.engine, sorted({'torch', 'ctranslate2', 'onnxruntime'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["cpu", "[]"], out


def test_cuda_without_a_gpu_is_refused_naming_what_is_missing() -> None:
    missing = {name for name, why in gpu_runtimes().items() if why}
    if not missing:
        pytest.fail("every runtime sees a GPU here: this test is for machines without one")
    with pytest.raises(DeviceUnavailable) as caught:
        plan_devices("cuda")
    for name in missing:
        assert name in str(caught.value)


def test_worker_refuses_to_start_on_cuda_without_a_gpu(settings: Settings) -> None:
    env = settings_env(settings.with_(device="cuda", metrics_port=0))
    result = subprocess.run([sys.executable, "-m", "worker.cli", "worker", "--pool", "solo"], check=False,
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "NARRATOR_DEVICE=cuda but no GPU is visible" in result.stderr, result.stderr[-2000:]
    assert "ready." not in result.stdout + result.stderr


@pytest.mark.slow
def test_worker_metrics_say_where_each_model_runs(worker_process: WorkerProcess) -> None:
    assert worker_process.metrics_url
    text = requests.get(worker_process.metrics_url, timeout=10).text
    for model in ("engine", "asr", "torch"):
        assert f'narrator_model_device{{device="cpu",model="{model}"}} 1.0' in text, text[-1500:]
    assert "models run on: engine cpu, asr cpu, torch cpu" in worker_process.log_path.read_text()


@pytest.mark.slow
def test_float_graph_on_the_cpu_provider_sounds_like_the_int8_graph(models, whisper) -> None:  # type: ignore[no-untyped-def]
    """The graph a GPU worker loads, on the CPU provider: no integer kernel left, the same
    speaker (embedding similarity with the int8 render) and the same words (Whisper)."""
    import onnx

    from worker import stock_voices
    from worker.tts.checks.scoring import heard_error_rate
    from worker.tts.checks.speaker import cosine
    from worker.tts.synthesis.engine import kokoro_engine
    from worker.tts.synthesis.pipeline import Synthesizer

    float_engine = kokoro_engine(models.settings, "cpu", graph="float")
    assert float_engine.name == "kokoro-82m-float" and "-float-" in float_engine.version
    assert float_engine.version != models.engine.version  # renders are cached per graph
    ops = {n.op_type for n in onnx.load(str(float_engine.model_path)).graph.node}
    assert not ops & {"MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM", "DynamicQuantizeLinear"}, ops
    voice = stock_voices.stock_state(models)
    int8 = models.synthesizer.render(TEXT, voice)
    flt = Synthesizer(models.frontend, float_engine).render(TEXT, voice)
    rate = float_engine.sample_rate
    assert abs(flt.duration_s - int8.duration_s) < 0.1 * int8.duration_s
    similarity = cosine(models.encoder.embed(flt.audio, rate), models.encoder.embed(int8.audio, rate))
    assert similarity >= 0.9, similarity
    heard_int8 = heard_error_rate(TEXT, whisper.transcribe(int8.audio, rate, language="zh").text, "zh")
    heard_float = heard_error_rate(TEXT, whisper.transcribe(flt.audio, rate, language="zh").text, "zh")
    assert heard_float <= max(0.1, heard_int8 + 0.05), (heard_float, heard_int8)
    print(f"float vs int8: similarity {similarity:.3f}, heard wrong {heard_float:.3f} vs {heard_int8:.3f}")

