"""Phonemes to audio: the engine (Kokoro ONNX), the synthesis pipeline that chunks and
stitches, voice state, model files, audio helpers and the watermark put into every render."""
