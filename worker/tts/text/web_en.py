"""Web addresses, e-mail addresses, hashtags and handles read in English as a narrator says them.

www.example.com "W W W dot example dot com", help@example.co.uk "help at example dot co dot uk",
a path's slashes and a query after "question mark"; a hyphen inside an address is "dash"
(billing-team@ "billing dash team"), an underscore "underscore", a file's extension as said (guide.pdf
"guide dot P D F"), a bare ``https://`` spelled and a bare ``.org`` "dot org"; #SummerReads "hashtag SummerReads", @CityLibrary "at
CityLibrary". The domain .edu and .gov are spelled (dot E D U), as they are said.
"""

from __future__ import annotations

import re

_TLD = r"(?:com|org|net|edu|gov|io|co|cn|uk|us|de|fr|jp|app|dev|ai|info|biz|shop)"
_EMAIL = re.compile(r"(?<![\w.+-])([A-Za-z0-9][\w.+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?![\w-])")
_URL = re.compile(rf"(?<![\w@./-])(?:https?://)?((?:[A-Za-z0-9-]+\.)+{_TLD})(?![\w-])((?:/[\w\-]*(?:\.[\w\-]+)*)*)"
                  r"(?:\?([\w=&%+\-]+(?:\.[\w=&%+\-]+)*))?", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w&#])#(?![A-Z]?\d)([A-Za-z][A-Za-z0-9_]*)")  # #A1234 is a number
_HANDLE = re.compile(r"(?<![\w.@])@([A-Za-z][A-Za-z0-9_]*)(?![\w.@-])")
_SPELLED_TLD = {"edu": "E D U", "gov": "G O V"}
_SCHEME = re.compile(r"\b(https?)://(?=[\s,.;:)]|$)")  # "begins with https://": spelled, not an address
_BARE_TLD = re.compile(rf"(?<![\w.])\.({_TLD})\b(?!\w|\.\w)")  # a .org address
# A file's name: its extension said as people say it (report.pdf "report dot P D F").
_EXTENSIONS = {"pdf": "P D F", "csv": "C S V", "txt": "T X T", "jpg": "J P G", "jpeg": "jay peg", "png": "P N G",
               "doc": "doc", "docx": "doc X", "xls": "X L S", "xlsx": "X L S X", "ppt": "P P T", "pptx": "P P T X",
               "zip": "zip", "mp3": "M P three", "mp4": "M P four", "wav": "wave", "html": "H T M L", "exe": "E X E"}
_FILE = re.compile(rf"(?<![\w./@-])([A-Za-z0-9][\w-]*)\.({'|'.join(_EXTENSIONS)})\b(?![\w/]|\.\w)", re.IGNORECASE)


def _host(host: str) -> str:
    """www.example.com: W W W dot example dot com (the letters of www are said one by one)."""
    parts = host.split(".")
    return " dot ".join("W W W" if p.lower() == "www" else _SPELLED_TLD.get(p.lower(), p) if i == len(parts) - 1 else p
                        for i, p in enumerate(parts))


def _url(m: re.Match[str]) -> str:
    """The host, the path's parts and the query after "question mark" (its "=" and "&" misaki says)."""
    path = " slash ".join(" dot ".join(_EXTENSIONS.get(x.lower(), x) if i else x for i, x in enumerate(p.split(".")))
                          for p in (m.group(2) or "").split("/") if p)
    query = (m.group(3) or "").replace(".", " dot ")
    return _host(m.group(1)) + (" slash " + path if path else "") + (" question mark " + query if query else "")


def read_web(text: str) -> str:
    """``text`` with its e-mail and web addresses, hashtags and handles as said."""
    text = _SCHEME.sub(lambda m: " ".join(m.group(1).upper()) + " colon slash slash", text)
    text = _EMAIL.sub(lambda m: m.group(1).replace(".", " dot ").replace("-", " dash ") + " at "
                      + _host(m.group(2)).replace("-", " dash "), text)
    text = _URL.sub(_url, text)
    text = _FILE.sub(lambda m: f"{m.group(1)} dot {_EXTENSIONS[m.group(2).lower()]}", text)
    text = _BARE_TLD.sub(lambda m: "dot " + _SPELLED_TLD.get(m.group(1).lower(), m.group(1)), text)
    text = re.sub(r"(?<=[A-Za-z0-9])_(?=[A-Za-z0-9])", " underscore ", text)  # user_name
    text = _HASHTAG.sub(lambda m: "hashtag " + m.group(1), text)
    return _HANDLE.sub(lambda m: "at " + m.group(1), text)
