"""Street addresses, rooms and routes read in English as a narrator says them.

123 N. Main St. "one twenty-three North Main Street" (a house number in pairs, as a year is said),
4500 W. Oak Blvd. "forty-five hundred West Oak Boulevard" (W. before a street's name is a
direction, not watts), the NE corner "the northeast corner", Springfield, IL 62704 "Springfield,
Illinois six two seven oh four" (a state's code before a ZIP code, the ZIP digit by digit), P.O. Box,
Room 1204 / Rm. 1204 "Room twelve oh four", Hwy 101 "Highway one oh one", Flight UA 837 "Flight
U A eight thirty-seven".
"""

from __future__ import annotations

import re
from types import MappingProxyType

from num2words import num2words

_STATES = MappingProxyType({
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine",
    "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "DC": "D C",
})
_DIRECTIONS = MappingProxyType({"N": "North", "S": "South", "E": "East", "W": "West", "NE": "northeast",
                                "NW": "northwest", "SE": "southeast", "SW": "southwest"})
_DIGIT_WORDS = ("oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# "City, IL 62704": the state's code only before a ZIP code, where it cannot be a word (IN, OR, ME).
_STATE_ZIP = re.compile(rf"(?<=, )({'|'.join(_STATES)}) (\d{{5}})(?:-(\d{{4}}))?\b")
# A single-letter direction with its period between a house number and a capitalised street name.
_STREET_DIRECTION = re.compile(r"(?<=\d )([NSEW])\. (?=[A-Z][a-z])")
_CORNER = re.compile(r"\b(NE|NW|SE|SW) (?=corner|side|entrance|quadrant)")
_HOUSE_NUMBER = re.compile(r"(?<![\w.,$#/-])(\d{3,5})(?= (?:North|South|East|West|[A-Z][a-z]+ (?:St|Ave|Rd|Blvd|Dr|Ln|"
                           r"Way|Ct|Pl|Street|Avenue|Road|Boulevard|Drive|Lane|Court|Place)\b))")
# A room, suite or gate, a highway, a flight: the number said in pairs.
_NUMBERED_PLACE = re.compile(r"\b(Room|Rm\.|Suite|Ste\.|Hwy\.?|Highway|Route|Rte\.|Flight [A-Z0-9]{2})\s?(\d{2,4})\b")
# (Ste. stays for normalize_en's abbreviations, which say it "Suite" wherever it stands.)
_PLACE_WORDS = MappingProxyType({"Rm.": "Room", "Hwy": "Highway", "Hwy.": "Highway", "Rte.": "Route"})


def _pairs(number: str) -> str:
    """1204 "twelve oh four", 837 "eight thirty-seven", 400 "four hundred": as a year is said."""
    return num2words(int(number), to="year").replace("oh-", "oh ") if number[0] != "0" else number


def _place(m: re.Match[str]) -> str:
    word = m.group(1)
    if word.startswith("Flight "):
        word = "Flight " + " ".join(word[7:])
    return f"{_PLACE_WORDS.get(word, word)} {_pairs(m.group(2))}"


def _zip(code: str) -> str:
    return " ".join(_DIGIT_WORDS[int(d)] for d in code)


def read_addresses(text: str) -> str:
    """``text`` with its addresses, rooms, routes and flights as said (see the module's docstring)."""
    text = re.sub(r"\bP\.O\. Box\b", "P O Box", text)
    text = _STATE_ZIP.sub(lambda m: f"{_STATES[m.group(1)]} {_zip(m.group(2))}"
                          + (f" {_zip(m.group(3))}" if m.group(3) else ""), text)
    text = _STREET_DIRECTION.sub(lambda m: _DIRECTIONS[m.group(1)] + " ", text)
    text = _CORNER.sub(lambda m: _DIRECTIONS[m.group(1)] + " ", text)
    text = _HOUSE_NUMBER.sub(lambda m: _pairs(m.group(1)), text)
    text = re.sub(r"\b(Apartment|Apt\.|Unit|Suite|Ste\.) (\d+)([A-Z])\b", r"\1 \2 \3", text)  # Apt. 12B
    return _NUMBERED_PLACE.sub(_place, text)
