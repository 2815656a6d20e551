"""Web addresses, e-mail addresses, hashtags and handles read in English as a narrator says them.

www.example.com "W W W dot example dot com", help@example.co.uk "help at example dot co dot uk",
a path's slashes and a query after "question mark"; a hyphen inside an address is "dash"
(billing-team@ "billing dash team"); #SummerReads "hashtag SummerReads", @CityLibrary "at
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


def _host(host: str) -> str:
    """www.example.com: W W W dot example dot com (the letters of www are said one by one)."""
    parts = host.split(".")
    return " dot ".join("W W W" if p.lower() == "www" else _SPELLED_TLD.get(p.lower(), p) if i == len(parts) - 1 else p
                        for i, p in enumerate(parts))


def _url(m: re.Match[str]) -> str:
    """The host, the path's parts and the query after "question mark" (its "=" and "&" misaki says)."""
    path = " slash ".join(p.replace(".", " dot ") for p in (m.group(2) or "").split("/") if p)
    query = (m.group(3) or "").replace(".", " dot ")
    return _host(m.group(1)) + (" slash " + path if path else "") + (" question mark " + query if query else "")


def read_web(text: str) -> str:
    """``text`` with its e-mail and web addresses, hashtags and handles as said."""
    text = _EMAIL.sub(lambda m: m.group(1).replace(".", " dot ").replace("-", " dash ") + " at " + _host(m.group(2)), text)
    text = _URL.sub(_url, text)
    text = _HASHTAG.sub(lambda m: "hashtag " + m.group(1), text)
    return _HANDLE.sub(lambda m: "at " + m.group(1), text)
