"""English homographs decided from the words around them, before misaki's tagger sees them.

read, lead, live, record, minute, wind, tear, close, present, object, desert, bass, bow and resume are
written as misaki's ``[word](/phonemes/)`` when the neighbouring words say which sense is
meant, so the chosen reading is forced; where they say nothing, misaki reads the word by its
part of speech. The tagger alone misses senses that share one (lead pipes, the bass line, a
minute amount) and some tenses ("have you read it"), which these rules keep. Words whose
lexicon entry has one reading for every part of speech get their other one here too
(``PART_OF_SPEECH_READINGS``: export, protest, transfer …).
"""

from __future__ import annotations

import re
from types import MappingProxyType

_PAST_MARKERS = re.compile(r"\b(yesterday|ago|last|earlier|already|once|then|previously|before|in (?:19|20)\d\d)\b",
                           re.IGNORECASE)
_MODALS = frozenset({"to", "will", "would", "can", "could", "should", "must", "may", "might", "shall", "do", "does", "did",
           "don't", "doesn't", "didn't", "won't", "can't", "please", "let's", "'ll", "cannot"})
_PERFECT = frozenset({"have", "has", "had", "having", "'ve", "was", "were", "been", "be", "being", "is", "are", "widely"})
_PLURAL_SUBJECTS = frozenset({"i", "you", "we", "they", "people", "children", "students", "who"})
_SINGULAR_SUBJECTS = frozenset({"he", "she", "it"})
_LEAD_METAL_NEXT = frozenset({"poisoning", "pipe", "pipes", "paint", "free", "acid", "content", "levels", "level", "exposure",
                    "contamination", "bullet", "bullets", "pencil", "pencils", "oxide", "crystal", "weight", "weights",
                    "shot", "ore", "mine", "mining", "sheet", "roof", "glass", "battery", "batteries"})
_LEAD_METAL_PREV = frozenset({"of", "with", "from", "contains", "contain", "containing", "no", "unleaded"})
_LIVE_ADJ_NEXT = frozenset({"stream", "streams", "streaming", "concert", "concerts", "music", "broadcast", "show", "shows",
                  "event", "events", "performance", "coverage", "audience", "wire", "bait", "animals", "album",
                  "version", "on", "tonight", "feed", "chat", "session", "action", "updates", "recording", "band",
                  "TV", "tv", "now", "today", "from", "online", "score", "scores"})
_LIVE_ADJ_PREV = frozenset({"a", "the", "is", "are", "was", "were", "be", "broadcast", "go", "goes", "going", "went", "gone",
                  "stream", "streamed", "performed", "played", "aired", "shown", "its", "their", "our", "his", "her"})
# After a plural subject, what makes live the verb (volunteers live within); not what also follows the
# adjective (the band plays live on Friday).
_LIVE_VERB_NEXT = frozenset({"in", "within", "near", "on", "at", "with", "together", "alone", "abroad", "here", "there",
                             "nearby", "longer", "independently", "off", "across", "close", "far", "mostly", "only"}
                            ) - _LIVE_ADJ_NEXT
_MINUTE_ADJ_NEXT = frozenset({"amount", "amounts", "quantity", "quantities", "detail", "details", "particle", "particles",
                    "trace", "traces", "difference", "differences", "change", "changes", "fraction", "size", "portion",
                    "sample", "crack", "cracks", "hole", "holes", "organisms", "variation", "variations", "dose",
                    "scratch", "scratches", "dent", "dents", "flaw", "flaws", "speck", "specks", "bubbles", "grains",
                    "imperfections", "marks", "adjustments", "errors", "droplets", "fibres", "fibers", "gaps"})
_MINUTE_ADJ_PREV = frozenset({"are", "is", "was", "were", "be", "been", "seem", "seems", "very", "so", "too", "extremely",
                    "quite", "rather", "remain", "remains", "appear", "appears"})
_DETERMINERS = frozenset({"the", "a", "an", "it", "them", "this", "that", "these", "those", "my", "your", "his", "her", "our",
                "their", "every", "each", "some", "any"})

READINGS = MappingProxyType({
    ("read", "present"): "ɹˈid", ("read", "past"): "ɹˈɛd",
    ("lead", "verb"): "lˈid", ("lead", "metal"): "lˈɛd",
    ("live", "verb"): "lˈɪv", ("live", "adjective"): "lˈIv",
    ("record", "noun"): "ɹˈɛkəɹd", ("record", "verb"): "ɹəkˈɔɹd",
    ("minute", "noun"): "mˈɪnət", ("minute", "adjective"): "mInˈut",
    ("wind", "verb"): "wˈInd", ("tear", "verb"): "tˈɛɹ", ("close", "verb"): "klˈOz", ("present", "verb"): "pɹizˈɛnt",
    ("object", "verb"): "əbʤˈɛkt", ("desert", "verb"): "dəzˈɜɹt", ("bass", "music"): "bˈAs", ("bow", "bend"): "bˈW",
    ("resume", "noun"): "ɹˈɛzəmˌA",
})
# Words misaki's lexicon reads one way whatever their part of speech, given the reading of each
# (Merriam-Webster's American stress): the tagger's VERB or NOUN then picks, as for record.
PART_OF_SPEECH_READINGS = MappingProxyType({
    "export": {"DEFAULT": "ˈɛkspˌɔɹt", "VERB": "ɛkspˈɔɹt"},
    "protest": {"DEFAULT": "pɹˈOtˌɛst", "VERB": "pɹətˈɛst"},
    "transfer": {"DEFAULT": "tɹˈænsfəɹ", "VERB": "tɹænsfˈɜɹ"},
    "impact": {"DEFAULT": "ˈɪmpˌækt", "VERB": "ɪmpˈækt"},
    "combat": {"DEFAULT": "kˈɑmbˌæt", "VERB": "kəmbˈæt"},
    "annex": {"DEFAULT": "ˈænˌɛks", "VERB": "ənˈɛks"},
    "intern": {"DEFAULT": "ˈɪntˌɜɹn", "VERB": "ɪntˈɜɹn"},
    "perfume": {"DEFAULT": "pˈɜɹfjˌum", "VERB": "pəɹfjˈum"},
    "alloy": {"DEFAULT": "ˈælˌY", "VERB": "əlˈY"},
    "ally": {"DEFAULT": "ˈælˌI", "VERB": "əlˈI"},
    "frequent": {"DEFAULT": "fɹˈikwənt", "VERB": "fɹikwˈɛnt"},
})
# Subjects before a verb (I object), objects after one (desert your team).
_SUBJECTS = _PLURAL_SUBJECTS | _SINGULAR_SUBJECTS
_OBJECTS = frozenset({"me", "you", "him", "her", "us", "them", "it", "your", "my", "our", "their", "his", "its"})
# What makes a bass sound rather than a fish.
_BASS_MUSIC_NEXT = frozenset({"line", "lines", "guitar", "guitars", "guitarist", "player", "drum", "drums", "boost", "sound",
                              "notes", "note", "clef", "voice", "response", "frequencies", "frequency", "speaker",
                              "speakers", "levels", "level", "tones", "tone", "part", "solo", "amp", "amplifier"})
_BASS_MUSIC_PREV = frozenset({"deep", "rich", "punchy", "powerful", "booming", "more", "extra", "heavy", "strong", "tight",
                              "less", "thumping", "low"})
_RESUME_ADJECTIVES = frozenset({"updated", "current", "short", "detailed", "professional", "latest", "strong", "full",
                                "one-page", "new", "written", "polished"})
_RESUME_BEFORE = (_DETERMINERS - {"it", "them"}) | _RESUME_ADJECTIVES  # your resume, an updated resume
_WORD = re.compile(r"[A-Za-z']+")


def _plural(word: str) -> bool:
    """A word that reads as a plural noun (neighbors, volunteers), not one ending in ss."""
    return word.endswith("s") and not word.endswith("ss")
_HOMOGRAPH = re.compile(r"(?<![A-Za-z\[])(read|lead|live|record|minute|wind|tear|close|present|object|desert|bass|bow|resume)"
                        r"(?![A-Za-z\]])", re.IGNORECASE)


def _sense(word: str, prev: list[str], nxt: list[str], sentence: str) -> str | None:
    """The sense of one homograph from the words before (nearest last) and after it."""
    p1 = prev[-1] if prev else ""
    n1 = nxt[0] if nxt else ""
    if word == "read":
        if any(w in _PERFECT for w in prev[-3:]) and p1 not in _MODALS:
            return "past"  # has read, was read, have you read
        if not prev:  # an order (Read Section 4 before Friday), unless a participle: Read by millions,
            return "past" if n1 == "by" else "present"
        if p1 in _MODALS:
            return "present"
        if p1 in _SINGULAR_SUBJECTS:
            return "past"  # he read (present would be reads)
        return "past" if _PAST_MARKERS.search(sentence) else "present"
    if word == "lead":
        if n1 in _LEAD_METAL_NEXT or (p1 in _LEAD_METAL_PREV and n1 in {"", "is", "was", "and", "or", "in", "so", "but", "which"}):
            return "metal"
        return None
    if word == "live":
        plural_subject = _plural(p1) and p1 not in _LIVE_ADJ_PREV and n1 in _LIVE_VERB_NEXT  # volunteers live within
        if p1 in _PLURAL_SUBJECTS or p1 in _MODALS or p1 in {"and", "still", "also", "now"} or plural_subject:
            return "verb"
        if p1 in _LIVE_ADJ_PREV or n1 in _LIVE_ADJ_NEXT:
            return "adjective"
        return None
    if word == "record":
        if p1 in _MODALS or p1 in _PLURAL_SUBJECTS or (not prev and n1 in _DETERMINERS):
            return "verb"
        return "noun"
    verb_slot = p1 in _MODALS or p1 in {"not", "never", "and", "then"} or (not prev and n1 in _DETERMINERS | _OBJECTS)
    if word in ("wind", "tear", "present", "desert"):
        return "verb" if verb_slot and n1 not in {"of", "is", "was", "blows", "and"} else None
    if word == "close":
        return "verb" if verb_slot and n1 not in {"to", "by", "enough", "friend", "friends"} else None
    if word == "object":
        plural_subject = _plural(p1) and p1 not in _DETERMINERS  # neighbors object to
        return "verb" if (p1 in _SUBJECTS or p1 in _MODALS or plural_subject) and n1 in {"", "to", "that", "strongly"} else None
    if word == "bass":
        return "music" if n1 in _BASS_MUSIC_NEXT or p1 in _BASS_MUSIC_PREV else None
    if word == "bow":  # take a bow, bow to the audience (a bow tie, a ribbon's bow keep the default)
        took_a = prev[-2:] in (["take", "a"], ["took", "a"], ["takes", "a"])
        return "bend" if took_a or (n1 in {"down", "to", "before"} and p1 not in _DETERMINERS) else None
    if word == "resume":  # a CV after a determiner or an adjective; the verb otherwise (misaki's reading)
        return "noun" if p1 in _RESUME_BEFORE else None
    if word == "minute":
        if n1 in _MINUTE_ADJ_NEXT or (p1 in _MINUTE_ADJ_PREV and n1 in {"", "and", "but", "or"}):
            return "adjective"
        return "noun"
    return None


def force_homographs(text: str) -> str:
    """Write each homograph whose sense the context decides as ``[word](/phonemes/)``."""
    out: list[str] = []
    pos = 0
    for m in _HOMOGRAPH.finditer(text):
        word = m.group(1).lower()
        # The sentence around the word, at most 200 characters each side (a text without stops
        # would otherwise be scanned whole for every homograph in it).
        lo, hi = max(0, m.start() - 200), min(len(text), m.end() + 200)
        start = max(lo - 1, *(text.rfind(c, lo, m.start()) for c in ".!?;"))
        end = min([i for i in (text.find(c, m.end(), hi) for c in ".!?;") if i >= 0] or [hi])
        sentence = text[start + 1:end]
        prev = [w.lower() for w in _WORD.findall(text[start + 1:m.start()])]
        # a comma or colon right after the word ends its clause: "may contain lead, the utility warned"
        after = "" if text[m.end():m.end() + 1] in (",", ":") else text[m.end():end]
        nxt = [w if w == "TV" else w.lower() for w in _WORD.findall(after)]
        sense = _sense(word, prev, nxt, sentence)
        if sense is None:
            continue
        out.append(text[pos:m.start()] + f"[{m.group(1)}](/{READINGS[word, sense]}/)")
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)
