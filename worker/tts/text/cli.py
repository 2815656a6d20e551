"""`narrator text` entry point: show what the frontend makes of a text."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

from shared.pronunciation.lexicon import Entry, Lexicon, LexiconCsvError, parse_csv
from worker.tts.text.frontend import Frontend


def load_lexicon_csv(path: Path) -> Lexicon:
    """A lexicon CSV (the format ``GET /v1/lexicon/export`` writes), checked line by line;
    voice_id columns are ignored here (there is no voice), so every entry applies."""
    try:
        entries = parse_csv(path.read_text(encoding="utf-8-sig"))
    except LexiconCsvError as exc:
        raise SystemExit(f"narrator: {path}: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"narrator: cannot read {path}: {exc.strerror}") from None
    return Lexicon.merged(0, [Entry(e.word, e.reading, e.language) for e in entries], None)


# Characters JSON leaves raw that str.splitlines (and other readers) take for line breaks.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def json_line(data: object) -> str:
    """One JSON Lines record: UTF-8 text kept readable, every line break escaped."""
    return json.dumps(data, ensure_ascii=False).translate(_LINE_BREAKS)


def text_command(text: str | None, as_json: bool, *, frontend: Frontend | None = None,
                 lexicon: Lexicon | None = None) -> int:
    """Print the analysis of ``text``, or of each stdin line when ``text`` is None.

    With stdin, one JSON object per line (JSON Lines) so the output can be
    piped into other tools (blank lines are skipped); a line that fails (a malformed
    inline override) is reported on stderr and the exit status becomes 1, but the
    remaining lines are still processed. A character the frontend cannot read never
    fails a line: it is left out and named in the line's ``warnings``.
    ``frontend`` lets a caller that already holds one (tests, a worker) skip the load.
    """
    frontend = frontend or Frontend()
    compiled = frontend.compile(lexicon) if lexicon is not None else None
    stdin = sys.stdin
    if text is None and hasattr(stdin, "buffer"):
        # any bytes in, JSON out: invalid UTF-8 becomes U+FFFD instead of ending the run
        stdin = io.TextIOWrapper(stdin.buffer, encoding="utf-8", errors="replace")
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")  # JSON Lines are UTF-8 whatever the locale
    lines = [text] if text is not None else (line.rstrip("\n") for line in stdin)
    status = 0
    for line in lines:
        if text is None and not line.strip():
            continue
        try:
            analysis = frontend.analyze(line, compiled)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        if as_json:
            print(json_line(analysis.to_json()), flush=True)
        else:
            print(analysis.normalized)
            for sentence in analysis.sentences:
                print("  " + sentence.phonemes)
            if analysis.pinyin():
                print("  " + " ".join(p for _, p in analysis.pinyin()))
            for forced in analysis.forced:
                print(f"  {forced.word} = {forced.reading} ({forced.source})")
            sys.stdout.flush()
    return status
