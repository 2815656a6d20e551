"""The engine's sample rate, and the content type an uploaded recording is stored (and
later served) with.

Every render is 24 kHz mono: the API's audio formats, the speech channel, reference
cleaning, the watermark and the bench scripts all read ``SAMPLE_RATE`` from here, which
imports nothing, so the API needs no part of the model stack to know it.


Never the one the client sent: a file that is both a valid WAV and an HTML page, uploaded
as ``text/html``, would otherwise be served as a page from the storage's origin (stored
cross-site scripting through a presigned link). The type is read from the file's own
header, among the formats narrator decodes; anything else is stored as opaque bytes.
"""

from __future__ import annotations

SAMPLE_RATE = 24_000  # Kokoro renders 24 kHz mono; so does everything narrator delivers

OPAQUE = "application/octet-stream"
DECODABLE = "WAV, FLAC, OGG, MP3, M4A or WebM"  # what an upload may be, as refusals name it
# What a batch item is stored as (``output_format``), each also its file's extension. Not Opus:
# the watermark of a short item did not survive libsndfile's Opus encoder in the test, and a
# delivered file must carry its mark.
FILE_FORMATS = ("wav", "mp3", "flac")
MP4_BRANDS = (b"M4A ", b"M4B ", b"mp42", b"isom", b"mp41", b"iso2", b"iso5", b"iso6", b"3gp4", b"3gp5", b"qt  ",
              b"MSNV", b"dash")
EBML = b"\x1a\x45\xdf\xa3"


def container_format(data: bytes) -> str | None:
    """``"mp4"`` (a phone's M4A) or ``"webm"`` (a browser's recording) from the magic bytes: the
    one FFmpeg demuxer such an upload may reach (``shared.compressed_audio``), else None."""
    if data[4:8] == b"ftyp" and data[8:12] in MP4_BRANDS:
        return "mp4"
    if data[:4] == EBML:
        return "webm"
    return None


def stored_audio_type(data: bytes) -> str:
    """``audio/wav``, ``audio/flac``, ``audio/ogg``, ``audio/mpeg``, ``audio/mp4`` or ``audio/webm``
    from the magic bytes; else ``application/octet-stream``, which no browser renders as a page."""
    head = data[:12]
    container = container_format(head)
    if container is not None:
        return f"audio/{container}"
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"fLaC":
        return "audio/flac"
    if head[:4] == b"OggS":
        return "audio/ogg"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return OPAQUE
