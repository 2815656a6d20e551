"""Offline evaluation of the text frontend and of pronunciation (used by fine-tuning, bench
scripts and tests); nothing here runs on a render."""
