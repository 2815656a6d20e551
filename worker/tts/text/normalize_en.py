"""English text normalization for TTS: what misaki reads wrong as written.

misaki's English G2P (worker/tts/text/en_g2p.py) reads words by their part of speech, but reads
abbreviations, numbers, symbols and addresses as they stand, and cannot tell senses that share a
part of speech (lead the team / lead pipes). This module rewrites a line before misaki sees it:

- abbreviations with a period (Dr., St., No., Mr., vs., Fig., etc.) as the words said;
- amounts of money with a scale (``$1.5M``), clock times (``3:30pm``, ``9:05``), units after a
  number (singular after 1), percentages;
- model numbers glued to letters (``A380``) read in pairs, as English speakers say them;
- web addresses and e-mail (``www.example.com``: "W W W dot example dot com"), dates
  (``worker.tts.text.dates_en``: ``12/06/2026``, ``valid 12/1-12/24``, ``Dec. 5th``, ``Mon-Fri``),
  phone numbers digit by digit, ranges
  (``3-5 days``: "three to five"), dimensions (``40 x 30``: "forty by thirty") and multiples
  (``3.5x faster``: "three point five times"), decimals digit by digit after the point (``2.0``: "two
  point zero", which misaki reads "two"), ``#1`` "number one";
- numbers said without the comma num2words writes after thousands (Kokoro would pause there);
- rates after a slash (``$9.99/mo``: "per month"), inch marks after a number (``65"``), counts of
  a kit (``2 x cables``: "two cables"), capitals glued to a short number spelled apart (``IPX8``),
  ratings (``4.8/5``: "out of"), toll-free numbers with letters (``1-800-FLOWERS``), mixed
  fractions (``1½``: "one and a half"), ``in.`` after a number, a unit joined by a hyphen before
  a noun (``15-min``: "fifteen-minute"), ``pp.`` before a number, amounts with a currency's code
  (``USD 1,500``: "one thousand five hundred dollars");
- a measure before a noun in the singular (``a 3.5 mm jack``: "millimeter jack"), Roman numerals
  after a numbering word or a ruler's name (``Part II`` "part two", ``Henry VIII`` "Henry the
  eighth"), ``Vol.``, ``pt.`` and ``Ch.`` before a number, ``w/`` and ``w/o``;
- fractions (``3/4``: "three quarters") unless a word of dates comes before them;
- the homographs read, lead, live, record, minute, wind, tear, close, present, object, desert and
  bass from the words around them (``worker.tts.text.homographs_en``).

Each rule is a decision from the words next to the token: where the context says nothing, misaki
reads the token as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from num2words import num2words as _num2words

from worker.tts.text.address_en import read_addresses
from worker.tts.text.dates_en import MONTH_ABBREVIATIONS, read_dates
from worker.tts.text.homographs_en import force_homographs
from worker.tts.text.math_en import read_math
from worker.tts.text.phones_en import read_phone_numbers, say_digits
from worker.tts.text.shorthand_en import read_shorthand
from worker.tts.text.web_en import read_web

_CURRENCY = MappingProxyType({"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny"), "¥": ("yuan", "fen")})
# An amount with a currency's code, USD 1,500 or 1,500 EUR, is said as with its sign.
_ISO_SIGNS = MappingProxyType({"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "RMB": "¥"})
_ISO_AMOUNT = re.compile(r"\b(?:(USD|EUR|GBP|CNY|RMB)\s?(\d[\d,]*(?:\.\d+)?)|(\d[\d,]*(?:\.\d+)?)\s?(USD|EUR|GBP|CNY|RMB))\b")
_JAPAN = re.compile(r"\b(?:Japan|Japanese|Tokyo|Osaka|Kyoto|Hokkaido|Okinawa)\b")  # ¥ is the yen there
_SCALES = MappingProxyType({"K": "thousand", "k": "thousand", "M": "million", "m": "million", "B": "billion", "bn": "billion",
           "T": "trillion"})
_EN_UNITS = MappingProxyType({
    "km/h": "kilometers per hour", "mph": "miles per hour", "kg": "kilograms", "g": "grams",
    "mg": "milligrams", "km": "kilometers", "cm": "centimeters", "mm": "millimeters",
    "ml": "milliliters", "mAh": "milliamp hours", "GB": "gigabytes", "TB": "terabytes",
    "MB": "megabytes", "GHz": "gigahertz", "MHz": "megahertz", "Hz": "hertz", "W": "watts", "kW": "kilowatts",
    "lbs": "pounds", "lb": "pounds", "ft": "feet", "yd": "yards", "oz": "ounces", "mins": "minutes", "min": "minutes",
    "yrs": "years", "yr": "years", "hrs": "hours", "hr": "hours", "sec": "seconds", "℃": "degrees Celsius", "°C": "degrees Celsius",
    "°F": "degrees Fahrenheit", "℉": "degrees Fahrenheit", "tbsp": "tablespoons", "Tbsp": "tablespoons",
    "tsp": "teaspoons", "fl oz": "fluid ounces", "kWh": "kilowatt hours", "Wh": "watt hours", "Gbps": "gigabits per second",
    "Mbps": "megabits per second", "dB": "decibels", "nm": "nanometers", "mL": "milliliters", "L": "liters",
    "kcal": "kilocalories", "sq ft": "square feet", "m²": "square meters", "cm²": "square centimeters",
    "MP": "megapixels", "km²": "square kilometers", "ft²": "square feet", "m³": "cubic meters", "h": "hours",
    "V": "volts", "px": "pixels", "fps": "frames per second", "gal": "gallons", "wks": "weeks", "wk": "weeks",
    "Gbit/s": "gigabits per second", "Mbit/s": "megabits per second", "pcs": "pieces", "°": "degrees",
})
_EN_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_EN_UNITS, key=len, reverse=True))

# Abbreviation (with its period) -> words. Dr. and St. depend on the next word (see _abbreviation).
ABBREVIATIONS: Mapping[str, str] = MappingProxyType({
    "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Prof.": "Professor", "Fig.": "figure",
    "fig.": "figure", "vs.": "versus", "etc.": "et cetera", "approx.": "approximately", "Approx.": "Approximately",
    "Jr.": "Junior",
    "Sr.": "Senior", "Mt.": "Mount", "Ave.": "Avenue", "Dept.": "Department", "e.g.": "for example",
    "i.e.": "that is", "a.k.a.": "also known as", "cf.": "compare", "incl.": "including", "max.": "maximum",
    "Max.": "Maximum", "min.": "minimum", "Min.": "Minimum", "qty.": "quantity", "Qty.": "Quantity",
    "dept.": "department", "Apt.": "Apartment", "Blvd.": "Boulevard", "Rd.": "Road", "Ste.": "Suite", "Ltd.": "Limited", "Corp.": "Corporation",
})
# A rate's period after a slash: $9.99/mo "per month", 20/user "per user" (not 24/7 or and/or).
_PERIODS = MappingProxyType({"mo": "month", "yr": "year", "wk": "week", "hr": "hour", "oz": "ounce", "lb": "pound",
                             "gal": "gallon"})
_PER = re.compile(r"(?<=\w)/(month|mo|year|yr|week|wk|day|hour|hr|night|person|user|seat|oz|lb|gal|ream|box|case|pack)\b")
# Inches after a number: a 65" screen (not when it closes a quotation opened before it); "inch"
# before a noun after a determiner (a 65-inch screen), else "inches" (12 inches wide).
_INCHES = re.compile(r"(?<=\d)[\"″](?=\s+([A-Za-z])|[\s,.;:)]|$)")
_INCH_ABBREVIATION = re.compile(r"(?<=\d)\s?in\.(?=\s+[a-z]|[,;)])")  # 10 in. wide (not "in." ending a sentence)
_DETERMINER = r"\b(?:a|an|the|this|that|our|its|your|their|every|each|one)\s+(?:compact\s+|standard\s+|new\s+|small\s+)?"
_DETERMINER_NUMBER = re.compile(_DETERMINER + r"[\d.,/]+(?:\s(?:by|x|×)\s[\d.,/]+)*$", re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(_DETERMINER + r"(?:[a-z]+\s+)?$", re.IGNORECASE)  # a (flat) $5 fee
# A word after a measure that makes it describe a noun (a 10 km run), not what follows a quantity.
_UNIT_BEFORE_NOUN = re.compile(r"\s+(?!(?:of|and|or|to|per|each|in|on|at|for|from|with|than|is|are|was|were|long|wide|tall|"
                               r"high|deep|thick|away|apart|total|max|min|I)\b)[a-zA-Z]")
# Capitals glued to a short number are spelled, then the number said: IPX8 "I P X eight".
_CAPS_NUMBER = re.compile(r"(?<![A-Za-z0-9#])([A-Z]{1,5})(\d{1,2})(?![A-Za-z0-9])")  # M2 "M two" too
# A Roman numeral after a word that numbers things is its number (Part II "part two", World War
# II, Vol. III), after a ruler's name an ordinal (Henry VIII "Henry the eighth"); elsewhere "II" or
# "XL" may be letters or a size. Forty and over (L) only after a numbering word ("Size XL").
_ROMAN = re.compile(r"(?<![\w.])(?<!Xbox )([A-Z][a-z]+|Vol\.|Mk\.)\s(?=[IVXL])((?:XL|L?X{0,3})(?:IX|IV|V?I{0,3}))"
                    r"(?![\w-]|['’](?!s\b))")
_NUMBERING = frozenset({"Part", "Chapter", "Unit", "Lesson", "Level", "Phase", "Stage", "Section", "Volume", "Vol.", "Book",
                        "Act", "Scene", "Type", "Class", "Grade", "Step", "Round", "Season", "Episode", "War", "Article",
                        "Appendix", "Tier", "Mark", "Mk.", "Series", "Category", "Module", "Bowl", "Schedule", "Title"})
_RULERS = frozenset({"Henry", "Elizabeth", "Louis", "George", "Edward", "Charles", "James", "William", "Richard", "John",
                     "Paul", "Pius", "Benedict", "Leo", "Gregory", "Philip", "Frederick", "Peter", "Catherine", "Mary",
                     "Nicholas", "Alexander", "Ferdinand", "Francis", "Innocent", "Clement", "Urban", "Ramesses",
                     "Ramses", "Constantine", "Napoleon", "Wilhelm", "Ludwig", "Gustav", "Carlos", "Felipe", "Juan",
                     "Alfonso", "Stephen", "David", "Malcolm", "Robert", "Anne", "Ivan", "Otto", "Rudolf", "Olaf"})
# Before a number or a Roman numeral: Vol. 2 "volume 2", pt. 3 "part 3", Ch. 4 "chapter 4".
_NUMBERED_ABBREVIATIONS = MappingProxyType({"Vol": "Volume", "vol": "volume", "Pt": "Part", "pt": "part", "Ch": "Chapter",
                                            "ch": "chapter", "Sec": "Section"})
_NUMBERED = re.compile(rf"(?<![\w.])({'|'.join(_NUMBERED_ABBREVIATIONS)})\.\s?(?=\d|[IVX]+\b)")
# Words said as a phrase, not spelled: misaki spells a mixed-case token letter by letter.
_PHRASES = MappingProxyType({"YoY": "year over year", "QoQ": "quarter over quarter", "w/o": "without", "w/": "with",
                             "q.d.": "once daily", "b.i.d.": "twice daily", "t.i.d.": "three times daily",
                             "q.i.d.": "four times daily", "p.r.n.": "as needed", "ea.": "each", "Sz.": "size",
                             "IPv4": "I P V four", "IPv6": "I P V six"})
# Words whose period is not the end of a sentence (used by the frontend's sentence splitter).
NO_STOP = ("Dr", "Mr", "Mrs", "Ms", "St", "No", "vs", "Prof", "Fig", "Jr", "Sr", "Mt", "Ave", "Dept", "a.m", "p.m", "pp", "ext", "Ext",
           "e.g", "i.e", "cf", "incl", "approx", "Approx", "pcs", "max", "min", "qty", "dept", "Apt", "Rm", "Hwy", "Rte", "Sz", "ea", "oz", "ct", "est", "fl", "ft", "lbs", "Blvd", "Rd", "Ste", "Corp",
           *MONTH_ABBREVIATIONS, *_NUMBERED_ABBREVIATIONS)


def num2words(number: float, to: str = "cardinal") -> str:
    """num2words without the comma it writes after thousands ("one thousand, two hundred"): Kokoro
    pauses at a comma, and nobody pauses inside a number; and without the British "and" after
    hundred, as an American narrator (and misaki, reading a bare 120) says it."""
    return _num2words(number, to=to).replace(",", "").replace(" hundred and ", " hundred ")


def _say_number(num: str) -> str:
    return num2words(float(num) if "." in num else int(num))


def _money(m: re.Match[str]) -> str:
    unit, sub = _CURRENCY[m.group(1)]
    whole, _, frac = m.group(2).replace(",", "").partition(".")
    scale = _SCALES.get(m.group(3) or "") or m.group(4)
    # before a noun after a determiner the amount describes it: a $3 billion budget, a 5 dollar bill
    if unit == "yuan" and _JAPAN.search(m.string):
        unit, sub = "yen", "sen"
    plural = "" if unit in ("yuan", "yen") or (_UNIT_BEFORE_NOUN.match(m.string, m.end()) and _DETERMINER_BEFORE.search(
        m.string, max(0, m.start() - 20), m.start())) else "s"
    if scale:  # $1.5M, $3.2 million: three point two million dollars
        return f"{_say_number(m.group(2).replace(',', ''))} {scale} {unit}{plural}"
    n = int(whole)
    cents = int((frac + "00")[:2]) if frac else 0
    subs = "pence" if sub == "penny" and cents != 1 else sub + ("" if cents == 1 or sub == "fen" or not plural else "s")
    if n == 0 and cents:
        return num2words(cents) + " " + subs  # $0.99: ninety-nine cents
    out = num2words(n) + " " + unit + ("" if n == 1 else plural)
    return out + " and " + num2words(cents) + " " + subs if cents else out


def _scaled(m: re.Match[str]) -> str:
    """3.5M views "three point five million", 10K runners "ten thousand" (a 5K or 10K run, 4K video and 3M the
    company stay)."""
    after = m.string[m.end():]
    if m.group(0) == "3M" or m.group(2) == "K" and (float(m.group(1)) < 10 or re.match(r"\s+(?:run|race|walk|fun|trail|"
                                                                                      r"(?:white |rose |yellow )?gold)", after)):
        return m.group(0)
    return f"{m.group(1)} {_SCALES[m.group(2)]}"


def _military(m: re.Match[str]) -> str:
    """0800 hrs "oh eight hundred hours", 1430 hours "fourteen thirty hours"."""
    h, mi = m.group(1), m.group(2)
    return ("oh " if h[0] == "0" else "") + num2words(int(h)) + (" hundred" if mi == "00" else _minutes(mi)) + " hours"


def _duration(m: re.Match[str]) -> str:
    """A time of 1:30:05: "one hour, thirty minutes, and five seconds"."""
    parts = [(int(m.group(k)), w) for k, w in ((1, "hour"), (2, "minute"), (3, "second")) if int(m.group(k))]
    said = [f"{num2words(n)} {w}{'' if n == 1 else 's'}" for n, w in parts]
    return ", ".join(said[:-1]) + (", and " if len(said) > 2 else " and ") + said[-1] if len(said) > 1 else "".join(said)


def _minutes(mi: str) -> str:
    if mi == "00":
        return ""
    return " oh " + num2words(int(mi)) if mi.startswith("0") else " " + num2words(int(mi))


def _clock12(m: re.Match[str]) -> str:
    """3:30pm three thirty PM, 9am nine AM (the letters: "a m" would be read as the article)."""
    letters = "AM" if m.group("ap").lower().startswith("a") else "PM"
    end = "." if m.group("ap").endswith(".") and not m.string[m.end():].strip() else ""  # "p.m." ending the line
    return num2words(int(m.group("h"))) + _minutes(m.group("mi") or "00") + " " + letters + end


def _clock(m: re.Match[str]) -> str:
    """9:05 nine oh five, 12:30 twelve thirty, 7:00 seven o'clock."""
    h, mi = int(m.group(1)), m.group(2)
    return num2words(h) + (_minutes(mi) if mi != "00" else " o'clock")


def _singular(words: str) -> str:
    """kilograms kilogram, kilometers per hour kilometer per hour, milliamp hours milliamp hour."""
    parts = words.split(" ")
    i = 0 if "per" in parts or parts[-1][:1].isupper() else len(parts) - 1  # degrees Celsius
    parts[i] = "foot" if parts[i] == "feet" else parts[i] if parts[i].endswith("hertz") else parts[i].removesuffix("s")
    return " ".join(parts)


def _unit(m: re.Match[str]) -> str:
    """5 kg five kilograms, 1 kg one kilogram, and before a noun singular: 15-min fifteen-minute,
    a 3.5 mm jack "a three point five millimeter jack"."""
    words = _EN_UNITS[m.group(3)]
    before_noun = (not words.endswith(("Celsius", "Fahrenheit"))  # a 60 degrees Celsius wash, as it is said
                   and _UNIT_BEFORE_NOUN.match(m.string, m.end()) is not None
                   and _DETERMINER_NUMBER.search(m.string, max(0, m.start() - 40), m.end(1)) is not None)
    if m.group(1) == "1" or m.group(2) == "-" or before_noun:
        words = _singular(words)
    return m.group(1) + ("-" if m.group(2) == "-" else " ") + words


def _roman(m: re.Match[str]) -> str:
    word, numeral = m.group(1), m.group(2)
    value, last = 0, 0
    for letter in reversed(numeral):
        digit = {"I": 1, "V": 5, "X": 10, "L": 50}[letter]
        value, last = value + (digit if digit >= last else -digit), max(last, digit)
    if word in _RULERS:
        return f"{word} the {num2words(value, to='ordinal')}"
    if word in _NUMBERING or (len(numeral) > 1 and "L" not in numeral):
        return f"{word} {num2words(value)}"
    return m.group(0)


def _abbreviation(m: re.Match[str]) -> str:
    word, after = m.group(1), m.string[m.end():]
    nxt_capital = re.match(r"\s+[A-Z]", after) is not None
    end = "." if not after.strip() else ""
    if word == "Dr":
        return ("Doctor" if nxt_capital else "Drive") + end
    if word == "St":
        return ("Saint" if nxt_capital else "Street") + end
    if word == "No":
        return "number"
    spoken = ABBREVIATIONS[word + "."]
    return spoken + ("." if not after.strip() or re.match(r"\s+[A-Z]", after) and word == "etc" else "")


def _model(m: re.Match[str]) -> str:
    """A380 A three eighty, B747 B seven forty-seven: a model number glued to letters is read in pairs."""
    return m.group(1) + " " + num2words(int(m.group(2)), to="year")


_ABBREV_RE = re.compile(r"(?<![A-Za-z.])(Dr|St|Mrs|Mr|Ms|Prof|Fig|fig|vs|etc|[Aa]pprox|cf|incl|Jr|Sr|Mt|Ave|Dept|[Qq]ty|[Mm]ax|dept|Apt|Blvd|Rd|Ste|Ltd|Corp|"
                         r"(?<!\d\s)(?<!\d)[Mm]in)\.")  # 30 min. is minutes

# -- dates, phone numbers, ranges, dimensions, web addresses --------------------------------------

_NUMBER = r"\d(?:[\d,]*\d)?(?:\.\d+)?"
_MONEY_RANGE = re.compile(rf"([$€£¥])({_NUMBER})\s?[-–—]\s?\1?(?=\d)")
_RANGE = re.compile(rf"(?<![\w.,:/-])({_NUMBER}(?::[0-5]\d)?(?:\s?[aApP]\.?[mM]\.?|%)?)\s?[-–—]\s?(?=\d)")
_DIMENSION = re.compile(rf"(?<![\w.])({_NUMBER})\s?[x×]\s?(?=\d)")
# A toll-free number with letters: 1-800-FLOWERS "one, eight hundred, FLOWERS" (not a range).
_VANITY = re.compile(r"(?<![\w-])1-(8\d\d)-(?=[A-Z]{3,})")
# A rating: 4.8/5 "out of" (a fraction has no decimal point), or 4/5 after a word of rating.
_RATING = re.compile(r"(?<![\d/.])(\d+(?:\.\d)?)/(5|10|100)(?![\d/])")
_RATING_WORD = re.compile(r"\b(?:rated|rating|rating of|scored|score|score of|stars?)[: ]*$", re.IGNORECASE)
# A fraction, after a whole number or not (2 1/2), and a unit after a fraction read in words.
_FRACTION = re.compile(r"(?<![\d/.,])(?:(?P<whole>\d+)\s)?(?P<num>[1-9])/(?P<den>[2-9]|1[0-6])(?![\d/])")
_UNIT_AFTER_FRACTION = re.compile(rf"\b((and a )?(?:halves|half|quarters?|thirds?|(?:fifth|sixth|eighth|tenth)s?)) ({_EN_UNIT_ALT})(?![A-Za-z])")
_COUNT_OF = re.compile(r"(?<![\w.])(\d+)\s[x×]\s(?!(?:minus|plus|equals|times|divided)\b)(?=[A-Za-z])")  # 2 x cables
_TIMES = re.compile(rf"(?<![\w.])({_NUMBER})(?:x|\s?×)(?![\w×])(?!\s?\d)")  # 3.5x faster: three point five times
_DECIMAL = re.compile(r"(?<![\w.,])(\d+)\.(\d+)(?![\d.]\d|\w)")


def _fraction(m: re.Match[str]) -> str:
    """3/4 three quarters, 1/2 one half, 5/8 five eighths, 2 1/2 "2 and a half"; 3/4 after a word of dates
    (on 3/4) stays."""
    if re.search(r"\b(?:on|from|until|till|by|before|after|since|through|due)\s*$", m.string[max(0, m.start() - 12):m.start()],
                 re.IGNORECASE):
        return m.group(0)
    whole, num, den = m.group("whole"), int(m.group("num")), int(m.group("den"))
    if num >= den or num == 0:  # 5/3 is not read as a fraction of a whole
        return m.group(0)
    name = {2: "half", 4: "quarter"}.get(den) or num2words(den, to="ordinal")
    plural = "halves" if den == 2 else name + "s"
    if whole:
        return f"{whole} and {'a' if num == 1 else num2words(num)} {name if num == 1 else plural}"
    return f"{num2words(num)} {name if num == 1 else plural}"


def _rating(m: re.Match[str]) -> str:
    said = "." in m.group(1) or _RATING_WORD.search(m.string, max(0, m.start() - 16), m.start())
    return f"{m.group(1)} out of {m.group(2)}" if said else m.group(0)


def _inches(text: str) -> str:
    """Each inch mark said, in one pass: a quote after a number is one unless it closes a quotation
    (an odd number of quotes not after a number came before it)."""
    out, start, opened = [], 0, 0
    for m in re.finditer(r'"|″', text):
        inch = _INCHES.match(text, m.start())
        if inch is None or (m.group(0) == '"' and opened % 2):
            opened += m.group(0) == '"' and not (m.start() and text[m.start() - 1].isdigit())
            continue
        before = _DETERMINER_NUMBER.search(text, max(0, m.start() - 40), m.start())
        out += [text[start:m.start()], " inch" if inch.group(1) and before else " inches"]  # a 65-inch TV; 12 inches wide
        start = m.end()
    return "".join(out) + text[start:]


def _dates_and_numbers(text: str) -> str:
    """What a reader says for web addresses, dates, phone numbers, ranges, dimensions and decimals."""
    text = read_web(text)
    text = re.sub(r"#\s?(?=[A-Z]?\d)", "number ", text)
    text = read_dates(text)
    text = read_phone_numbers(text)
    text = _VANITY.sub(lambda m: f"one, {num2words(int(m.group(1)))}, ", text)
    text = _MONEY_RANGE.sub(lambda m: f"{m.group(2)} to {m.group(1)}", text)  # $5-$10: five to ten dollars
    text = _RANGE.sub(lambda m: m.group(1) + " to ", text)
    text = _RATING.sub(_rating, text)
    text = _FRACTION.sub(_fraction, text)
    text = _DIMENSION.sub(lambda m: m.group(1) + " by ", text)
    text = _COUNT_OF.sub(lambda m: m.group(1) + " ", text)
    return _TIMES.sub(lambda m: m.group(1) + " times", text)


def normalize_en(text: str) -> str:
    """Rewrite an English line as the words a reader says, with homographs forced."""
    text = re.sub(r"(?<![A-Za-z.])No\.(?=\s*\d)", "number", text)
    text = read_addresses(text)
    text = re.sub(r"(?<![A-Za-z])(e\.g\.|i\.e\.|a\.k\.a\.)", lambda m: ABBREVIATIONS[m.group(1)], text)
    text = re.sub(rf"(?<![\w/])({'|'.join(re.escape(p) for p in _PHRASES)})(?![\w/])", lambda m: _PHRASES[m.group(1)], text)
    text = _NUMBERED.sub(lambda m: _NUMBERED_ABBREVIATIONS[m.group(1)] + " ", text)
    text = _ROMAN.sub(_roman, text)
    text = _PER.sub(lambda m: " per " + _PERIODS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"(?<![\w.])(\d)'\s?(\d{1,2})\"", r"\1 foot \2", text)  # 6'2": six foot two
    text = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(\"|ft|in|cm|mm|m)\s?[x×]\s?(?=\d+(?:\.\d+)?\s?\2(?![A-Za-z]))",
                  r"\1 x ", text)  # 12" x 18": the unit once, after the last number
    text = _inches(text)
    text = _INCH_ABBREVIATION.sub(lambda m: " inch" if _UNIT_BEFORE_NOUN.match(m.string, m.end()) else " inches", text)
    text = re.sub(r"(\d)\s?([½¼¾⅓⅔⅛⅜⅝⅞])", r"\1 and \2", text)  # 1½ cups: one and a half
    text = _CAPS_NUMBER.sub(r"\1 \2", text)
    text = re.sub(r"(?<!\S)~\s?(?=[$€£]?\d)", "about ", text)  # ~2 hours, ~$40
    text = re.sub(r"\b(degrees?) ([CF])\b(?!\.\w)", lambda m: f"{m.group(1)} {'Celsius' if m.group(2) == 'C' else 'Fahrenheit'}", text)
    text = re.sub(r"(?<=\d)\s?pcs\.(?=\s+[a-z]|[,;)])", " pieces", text)  # 12 pcs. and a case
    text = re.sub(r"(?<![\w.])v(?=\d+(?:\.\d+)+\b)", "version ", text)  # v2.1.3
    text = re.sub(r"(?<![\w.])(\d+)\.(\d+)\.(\d+)(?![\w.]|\.\d)", r"\1 point \2 point \3", text)  # 2.1.3
    text = re.sub(r"(?<=\d)\s?(min|mins|hr|hrs|sec|oz|lbs?|ft|tsp|tbsp)\.(?=\s+[a-z]|\s+[A-Z]{2,})", r" \1", text)  # 30 min. to bake
    text = re.sub(r"(?<=\d)\s?fl\.?\s?oz\.?(?=\s|$)", " fl oz", text)  # 150 fl. oz.
    text = re.sub(r"(\d\s?h\s?\d{1,2})\s?m\b", r"\1 min", text)  # 1h 30m: minutes after hours
    text = re.sub(r"(?<![\w$€£¥.])(\d+(?:\.\d+)?)([KMB])(?=\s+[a-z])", _scaled, text)
    text = re.sub(r"(?<![\w.])(\d+)¢", lambda m: num2words(int(m.group(1))) + (" cent" if m.group(1) == "1" else " cents"), text)
    text = re.sub(r"(?<![\w.])(480|720|1080|1440|2160)p\b", lambda m: num2words(int(m.group(1)), to="year") + " P", text)
    text = re.sub(r"(?<![\w:])([01]\d|2[0-3])([0-5]\d)\s?(?:hrs|hours)\b", _military, text)
    text = re.sub(r"(?<![\w:])(\d{1,2}):([0-5]\d):([0-5]\d)(?![\d:])", _duration, text)
    text = re.sub(r"(?:^|(?<=[:;,] )|(?<=\bor )|(?<=\band ))([a-h])\)\s+", lambda m: m.group(1).upper() + ", ", text)  # a) small
    text = read_shorthand(text)
    text = read_math(text)
    text = _dates_and_numbers(text)
    text = re.sub(r"\bpp\.\s?(?=\d)", "pages ", text)
    text = _ISO_AMOUNT.sub(lambda m: _ISO_SIGNS[m.group(1) or m.group(4)] + (m.group(2) or m.group(3)), text)
    text = _ABBREV_RE.sub(_abbreviation, text)
    text = re.sub(r"([$€£¥])\s?(\d[\d,]*(?:\.\d+)?)(?:\s?(K|k|M|B|bn|T)(?![A-Za-z])|\s(thousand|million|billion|trillion)\b)?",
                  _money, text)
    text = re.sub(r"(?<![\d:])(?P<h>1[0-2]|0?[1-9])(?::(?P<mi>[0-5]\d))?\s?(?P<ap>[aApP]\.?\s?[mM]\.?)(?![A-Za-z])",
                  _clock12, text)
    text = re.sub(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])", _clock, text)
    text = re.sub(r"(\d+(?:\.\d+)?)\s?%", lambda m: m.group(1) + " percent", text)
    text = re.sub(rf"(\d+(?:\.\d+)?)(\s?|-)({_EN_UNIT_ALT})(?![A-Za-z])", _unit, text)
    text = re.sub(r"(?<=bytes) (?=RAM\b)", " of ", text)  # 16GB RAM: sixteen gigabytes of RAM
    text = _UNIT_AFTER_FRACTION.sub(lambda m: f"{m.group(1)} {_EN_UNITS[m.group(3)] if m.group(2) else _singular(_EN_UNITS[m.group(3)])}",
                                    text)  # a quarter teaspoon; 2 and a half teaspoons
    text = re.sub(r"\b(one|a) (half|quarter|third|eighth) inches\b", r"\1 \2 inch", text)  # 1/4" thick
    text = re.sub(r"(?<![A-Za-z0-9])([A-Z]{1,3})(\d{3,4})(?![A-Za-z0-9])", _model, text)
    text = _DECIMAL.sub(lambda m: num2words(int(m.group(1))) + " point " + say_digits(m.group(2)), text)
    return force_homographs(text)
