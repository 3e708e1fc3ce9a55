"""Places written two ways: a shop's rate table lists "NY, NJ, CT" and a shopper asks about
"New York"; a table says "New South Wales" and a shopper types "NSW". Each is found by the other
(applied to the shop's texts and to questions alike, by bot.knowledge.retrieval.expand).

A code is read as a place only in capitals ("IN", "OR", "ME" are words too).
"""

from __future__ import annotations

import re

_REGIONS: list[tuple[str, tuple[str, ...]]] = [
    # United States
    ("AL", ("alabama",)), ("AK", ("alaska",)), ("AZ", ("arizona",)), ("AR", ("arkansas",)),
    ("CA", ("california",)), ("CO", ("colorado",)), ("CT", ("connecticut",)), ("DE", ("delaware",)),
    ("DC", ("district of columbia", "washington dc")), ("FL", ("florida",)), ("GA", ("georgia",)),
    ("HI", ("hawaii",)), ("ID", ("idaho",)), ("IL", ("illinois",)), ("IN", ("indiana",)), ("IA", ("iowa",)),
    ("KS", ("kansas",)), ("KY", ("kentucky",)), ("LA", ("louisiana",)), ("ME", ("maine",)), ("MD", ("maryland",)),
    ("MA", ("massachusetts",)), ("MI", ("michigan",)), ("MN", ("minnesota",)), ("MS", ("mississippi",)),
    ("MO", ("missouri",)), ("MT", ("montana",)), ("NE", ("nebraska",)), ("NV", ("nevada",)),
    ("NH", ("new hampshire",)), ("NJ", ("new jersey",)), ("NM", ("new mexico",)), ("NY", ("new york",)),
    ("NC", ("north carolina",)), ("ND", ("north dakota",)), ("OH", ("ohio",)), ("OK", ("oklahoma",)),
    ("OR", ("oregon",)), ("PA", ("pennsylvania",)), ("RI", ("rhode island",)), ("SC", ("south carolina",)),
    ("SD", ("south dakota",)), ("TN", ("tennessee",)), ("TX", ("texas",)), ("UT", ("utah",)), ("VT", ("vermont",)),
    ("VA", ("virginia",)), ("WA", ("washington state", "western australia", "perth")), ("WV", ("west virginia",)),
    ("WI", ("wisconsin",)), ("WY", ("wyoming",)), ("PR", ("puerto rico",)),
    # Canada
    ("AB", ("alberta",)), ("BC", ("british columbia",)), ("MB", ("manitoba",)), ("NB", ("new brunswick",)),
    ("NL", ("newfoundland",)), ("NS", ("nova scotia",)), ("NT", ("northwest territories", "northern territory", "darwin")),
    ("NU", ("nunavut",)), ("ON", ("ontario",)), ("PE", ("prince edward island",)), ("QC", ("quebec",)),
    ("SK", ("saskatchewan",)), ("YT", ("yukon",)),
    # Australia (WA and NT above)
    ("ACT", ("australian capital territory", "canberra")), ("NSW", ("new south wales", "sydney")),
    ("QLD", ("queensland", "brisbane")), ("TAS", ("tasmania", "hobart")), ("VIC", ("victoria", "melbourne")),
    ("SA", ("south australia", "adelaide")),
    # Countries shoppers shorten
    ("UK", ("united kingdom", "great britain", "britain", "england", "scotland", "wales")),
    ("US", ("united states", "usa", "america")), ("UAE", ("united arab emirates",)), ("NZ", ("new zealand",)),
    ("EU", ("european union",)),
]  # fmt: skip
_BY_CODE = {code: names for code, names in _REGIONS}
_CODES = re.compile(r"\b(" + "|".join(sorted(_BY_CODE, key=len, reverse=True)) + r")\b")
# Codes that are no English word read as places in lower case too ("shipping to the uk").
_SAFE = ("UK", "NZ", "UAE", "EU", "NSW", "QLD")  # "usa" is one of the names of US
_SAFE_CODES = re.compile(r"\b(" + "|".join(code.lower() for code in _SAFE) + r")\b")
_NAMES = [(re.compile(rf"\b{re.escape(name)}\b", re.I), code) for code, names in _REGIONS for name in names]


def places(text: str) -> str:
    """The other way of writing every place the text names ("" when it names none)."""
    found = [" ".join(_BY_CODE[m.group(1)]) for m in _CODES.finditer(text)]
    found += [" ".join(_BY_CODE[m.group(1).upper()]) for m in _SAFE_CODES.finditer(text)]
    found += [code for pattern, code in _NAMES if pattern.search(text)]
    return " ".join(found)
