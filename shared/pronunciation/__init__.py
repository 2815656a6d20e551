"""Pronunciation rules that need no model: what a reading may look like, lexicon entries and
their CSV form, and the symbol tables behind them. The API checks what it stores with these,
and the worker's text frontend applies the same rules before anything is spoken.
"""
