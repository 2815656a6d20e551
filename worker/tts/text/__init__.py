"""Text to phonemes: normalization, Chinese and English G2P, polyphone rules and models,
lexicon application, and the `narrator text` command that shows what the frontend decided."""
