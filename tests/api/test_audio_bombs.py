"""Audio decode bombs: small uploads whose headers promise hours of audio.

A 160 KB WAV that declares a 1 Hz sample rate resampled to ~5 GB in the worker, and a long
silent FLAC is hours of audio in a few kilobytes; each killed the worker that decoded it.
The API now reads only the header and refuses such a file with a 422 that names the limit;
the worker's decoder (the second line, for audio stored before the check) refuses absurd
rates before resampling and never decodes more than the limit. All files are made here.
"""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
import soundfile

from shared.audio_limits import AudioLimits
from tests.api.test_bad_input import CONSENT, nothing_stored  # noqa: F401  (fixture)
from tests.helpers import assert_problem, wav_bytes
from tests.support.degrade import to_container_bytes
from worker.tts.checks.decode import decode_audio
from worker.tts.checks.reference import analyze_reference
from worker.tts.checks.reference_report import ReferenceRejected

pytestmark = pytest.mark.attack  # reproduces an attack against the running service (README: Security model)


def one_hertz_wav() -> bytes:
    """160 KB of 16-bit mono PCM whose header says 1 sample per second: 22 hours."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(1)
        w.writeframes(np.zeros(80_000, "<i2").tobytes())
    return buf.getvalue()


def silent_flac(seconds: float, rate: int = 8000, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, np.zeros((int(seconds * rate), channels), np.int16), rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def hi_res_silence(seconds: int) -> bytes:
    """Silence at 192 kHz in 8 channels (within every limit): ~90 KB a minute of FLAC that
    decodes to 370 MB a minute as float32. Written a few seconds at a time."""
    buf = io.BytesIO()
    with soundfile.SoundFile(buf, "w", samplerate=192000, channels=8, format="FLAC", subtype="PCM_16") as f:
        block = np.zeros((192000, 8), np.int16)
        for _ in range(seconds):
            f.write(block)
    return buf.getvalue()


def multichannel_wav(channels: int) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, np.zeros((16000, channels), np.int16), 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_the_bombs_are_small_on_disk() -> None:
    assert len(one_hertz_wav()) < 170_000 and len(silent_flac(11 * 60)) < 400_000


@pytest.mark.usefixtures("nothing_stored")
class TestUploadsAreRefusedOnTheirHeader:
    def upload_reference(self, client, auth, data: bytes, name: str = "r.wav"):  # type: ignore[no-untyped-def]
        return client.post("/v1/voices", headers=auth,
                           data={"name": "v", "language": "zh", "reference": (io.BytesIO(data), name)})

    def test_a_wav_declaring_one_hertz(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        body = assert_problem(self.upload_reference(client, auth, one_hertz_wav()), 422, "1 Hz", "8000 to 192000 Hz",
                              code="invalid_input")
        assert (body["field"], body["limit"], body["allowed"]) == ("reference", "sample_rate", [8000, 192000])

    def test_a_long_silent_flac_reference(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        body = assert_problem(self.upload_reference(client, auth, silent_flac(11 * 60), "r.flac"), 422,
                              "11.0 min long", "the limit is 10.0 min")
        assert (body["limit"], body["allowed"]) == ("duration", 600.0)

    def test_too_many_channels(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        body = assert_problem(self.upload_reference(client, auth, multichannel_wav(9)), 422, "9 channels", "1 to 8")
        assert body["limit"] == "channels"

    def test_a_consent_recording_longer_than_two_minutes(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        consent = client.post("/v1/consents", headers=auth, json=CONSENT).get_json()
        url = f"/v1/consents/{consent['id']}/recording"
        for data, words in ((silent_flac(3 * 60), ("3.0 min long", "the limit is 2.0 min")),
                            (one_hertz_wav(), ("1 Hz",))):
            body = assert_problem(client.post(url, headers=auth, data={"recording": (io.BytesIO(data), "c.flac")}),
                                  422, *words)
            assert body["field"] == "recording"
        assert client.get(f"/v1/consents/{consent['id']}", headers=auth).get_json()["status"] == "awaiting_recording"

    def test_ordinary_audio_still_passes_the_header_check(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        # A 1-second WAV passes the header check and reaches the consent check (409): nothing stored.
        assert_problem(self.upload_reference(client, auth, wav_bytes()), 409, "consent")
        # So do a phone's M4A and a browser's WebM.
        tone = 0.3 * np.sin(np.arange(16000) * 0.05)
        for fmt, codec in (("ipod", "aac"), ("webm", "libopus")):
            data = to_container_bytes(tone, 16000, fmt=fmt, codec=codec)
            assert_problem(self.upload_reference(client, auth, data, "r.m4a"), 409, "consent")

    @pytest.mark.parametrize("live", [False, True])  # True: no duration in the header; its packets are counted
    def test_a_long_silent_webm_reference(self, client, auth, live: bool) -> None:  # type: ignore[no-untyped-def]
        data = to_container_bytes(np.zeros(12 * 60 * 8000, np.float32), 8000, fmt="webm", codec="libopus", live=live)
        body = assert_problem(self.upload_reference(client, auth, data, "r.webm"), 422, "the limit is 10.0 min")
        assert (body["limit"], body["allowed"]) == ("duration", 600.0)

    def test_a_file_with_an_m4a_header_and_no_audio(self, client, auth) -> None:  # type: ignore[no-untyped-def]
        spoof = b"\x00\x00\x00\x1cftypM4A " + b"\x00" * 16 + b"#EXTM3U\nfile:///etc/passwd\n" * 20
        assert_problem(self.upload_reference(client, auth, spoof, "r.m4a"), 415, "not audio", "M4A or WebM")


class TestTheWorkerDecodesWithACap:
    def test_an_absurd_rate_is_refused_before_anything_resamples_it(self) -> None:
        with pytest.raises(ReferenceRejected) as info:
            decode_audio(one_hertz_wav())
        assert info.value.codes == ["unsupported_format"] and "1 Hz" in str(info.value)
        with pytest.raises(ReferenceRejected):
            analyze_reference(one_hertz_wav())

    def test_never_more_than_the_limit_is_decoded(self) -> None:
        limits = AudioLimits("recording", 120.0)
        audio, rate = decode_audio(silent_flac(11 * 60), limits)
        assert rate == 8000 and audio.shape == (120 * 8000, 1)

    def test_a_high_rate_many_channel_file_decodes_no_more_samples_than_48k_stereo(self) -> None:
        limits = AudioLimits("reference", 10.0)  # a 10 s budget: 10 s x 48 kHz x 2 = 960 000 samples
        audio, rate = decode_audio(hi_res_silence(2), limits)
        assert rate == 192000 and audio.shape == (960_000 // 8, 8)

    def test_a_long_reference_is_judged_too_long_on_its_capped_decode(self) -> None:
        limits = AudioLimits("reference", 60.0)
        report = analyze_reference(silent_flac(11 * 60), limits=limits).report
        assert report.decision == "reject" and "too_long" in report.codes
        assert report.scores["duration_seconds"] == pytest.approx(660.0)
        assert "11.0 minutes long" in next(f.message for f in report.findings if f.code == "too_long")


def test_the_console_waveform_reads_a_hostile_reference_in_bounded_memory() -> None:
    """The console draws the stored reference, the original upload when enrollment failed:
    a minute at 192 kHz in 8 channels took 370 MB of the API process to draw."""
    import tracemalloc

    from api.console.views import waveform_svg

    data = hi_res_silence(60)
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        svg = waveform_svg(data, AudioLimits("reference", 600.0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert svg.startswith("<svg") and svg.count(" L") == 2 * 600
    assert peak < 32 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"
