"""Judging audio: speech recognition and its scoring, the quality gate on renders, the
reference-audio QA run at enrollment and the speaker encoder."""
