"""What a catalogue's text carries that is not speech: HTML, Markdown emphasis and links, emoji.

Product descriptions exported from a shop or a CMS arrive with ``<br>``, ``&amp;`` and
``**bold**`` in them, and reviews with emoji. Left in, the G2P reads them aloud ("B R",
"and amp", "asterisk asterisk", "grinning face"). So before anything else the frontend:

- drops the tags of HTML's common elements and of SSML (text written for another engine);
  a block's tag (``<p>``, ``<br>``, ``<li>``, headings, table cells, SSML's ``<break/>``)
  becomes a line break, which ends a sentence as a reader would pause there; ``<script>`` and ``<style>`` go with their contents. Only known element names are
  tags, with only valued attributes: in ``a<b and c>d`` nothing is removed;
- decodes character references that end in a semicolon (``&amp;`` ``&nbsp;`` ``&#39;``):
  "AT&T" and "R&D" stay as written;
- unwraps Markdown's ``**strong**``, ``__strong__``, ``*em*`` and ``_em_`` and drops the ``#``
  of a heading line;
- removes emoji and pictographs (with their joiners and variation selectors);
- reads a Markdown link ``[text](target)`` as its text. The English G2P takes that same form as
  "say these phonemes" (``[hello](/ʃˈɪt/)``), which would let a line make a voice say what it
  does not show, past the checks that inline readings get; only the project's own rules write it.

Inline readings (``{word|reading}``) use none of these characters, so they pass unchanged.
"""

from __future__ import annotations

import html
import re

_INLINE = ("a", "abbr", "b", "bdi", "big", "cite", "code", "del", "em", "font", "i", "img", "ins", "kbd", "mark",
           "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "u", "var", "wbr",
           # SSML's, from text written for another engine: their words are read as plain text
           "audio", "emphasis", "lang", "phoneme", "prosody", "say-as", "speak", "voice")
_BLOCK = ("address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "div", "dl", "dt",
          "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html",
          "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead",
          "title", "tr", "ul", "break")  # SSML's <break/>: a pause, as a sentence's end is
# A tag: a known name, then only attributes with values (in "a<b and c>d" there is no tag).
_TAG = r"</?({names})(?:\s+[\w:-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>]+))*\s*/?>"
_HIDDEN = re.compile(r"<(script|style)\b[^<>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(_TAG.format(names="|".join(_BLOCK)) + r"\s*", re.IGNORECASE)
_INLINE_TAG = re.compile(_TAG.format(names="|".join(_INLINE)), re.IGNORECASE)
_REFERENCE = re.compile(r"&(?:#\d{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_STRONG = re.compile(r"(\*\*|__)(?=\S)([^\n]{1,200}?)(?<=\S)\1")  # bounded: linear on a run of "**"
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=[^\s*_])([^*_\n]+?)(?<=[^\s*_])\1(?![\w*])")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.MULTILINE)
_LINK = re.compile(r"\[([^\[\]\n]{0,300})\]\(([^()\n]{0,2000})\)")
# Emoji and pictographs: the supplementary symbol planes' emoji blocks, dingbats and the
# miscellaneous symbols (☀ ☎ ✓ ⭐), the regional indicators of flags, skin tones, the
# zero-width joiner and the variation selectors that style them.
_PICTOGRAPH = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u200D\uFE00-\uFE0F\U000E0020-\U000E007F]+")


def clean_markup(text: str) -> str:
    """``text`` without the HTML, Markdown emphasis and emoji a reader would not say."""
    if "<" in text:
        text = _HIDDEN.sub(" ", text)
        text = _BLOCK_TAG.sub("\n", text)
        text = _INLINE_TAG.sub("", text)
    if "&" in text:
        text = _REFERENCE.sub(lambda m: html.unescape(m.group(0)), text).replace("\xa0", " ")
    if "*" in text or "_" in text:
        text = _STRONG.sub(r"\2", text)
        text = _EMPHASIS.sub(r"\2", text)
    if "#" in text:
        text = _HEADING.sub("", text)
    if "](" in text:
        for _ in range(3):  # [[a](b)](/x/): a link inside a link's text
            text = _LINK.sub(r"\1", text)
        text = text.replace("](", "] (")  # deeper nesting: no link is left for the G2P either
    return _PICTOGRAPH.sub(" ", text)
