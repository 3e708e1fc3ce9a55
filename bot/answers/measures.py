"""Measured quantities in product details and requests ("640 g", "62" W x 36" D", "27,600 mAh"),
in one base unit per dimension so that two can be compared ("under 2 kg", "which is wider?")."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = r"kg|g|lbs?|pounds|oz|cm|mm|m|inches|inch|in|\"|″|ft|l|ml|litres?|liters?|lumens|lm|mah|w|watts?"
# A unit ends where no letter follows: `\b` after an inch mark never matches ("62" W" is 62 in).
MEASURE = re.compile(rf"(\d+(?:,\d{{3}})*(?:[.,]\d+)?)\s*({_UNITS})(?![A-Za-z])", re.I)
# "62" W x 36" D x 34" H": the figure written before the axis it measures.
_AXIS_FIGURE = re.compile(rf"(\d+(?:[.,]\d+)?)\s*({_UNITS})?\s*([WDHL])\b")
AXES = {"width": "W", "depth": "D", "height": "H", "length": "L"}
TO_BASE: dict[str, tuple[str, float]] = {
    "kg": ("g", 1000), "g": ("g", 1), "lb": ("g", 453.592), "lbs": ("g", 453.592), "pounds": ("g", 453.592),
    "oz": ("g", 28.3495), "cm": ("mm", 10), "mm": ("mm", 1), "m": ("mm", 1000), "in": ("mm", 25.4),
    "inch": ("mm", 25.4), "inches": ("mm", 25.4), '"': ("mm", 25.4), "″": ("mm", 25.4), "ft": ("mm", 304.8),
    "l": ("ml", 1000), "ml": ("ml", 1), "litre": ("ml", 1000), "litres": ("ml", 1000), "liter": ("ml", 1000),
    "liters": ("ml", 1000), "lumens": ("lm", 1), "lm": ("lm", 1), "mah": ("mah", 1), "w": ("w", 1),
    "watt": ("w", 1), "watts": ("w", 1),
}  # fmt: skip


@dataclass(frozen=True)
class Measure:
    base: str  # g, mm, ml, lm, mah, w
    value: float


def _number(text: str) -> float:
    """ "27,600" is twenty-seven thousand six hundred; "1,5" one and a half."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", text):
        return float(text.replace(",", ""))
    return float(text.replace(",", "."))


def in_base(number: str, unit: str) -> Measure:
    base, factor = TO_BASE[unit.lower()]
    return Measure(base, _number(number) * factor)


def measures(text: str) -> list[Measure]:
    return [in_base(m.group(1), m.group(2)) for m in MEASURE.finditer(text)]


def measure(text: str, base: str | None = None, axis: str | None = None) -> Measure | None:
    """The first quantity in `text` (of `base`, if given); for an axis ("width"), the figure
    written before its letter in "W x D x H" dimensions when there is one."""
    letter = AXES.get(axis or "")
    for found in _AXIS_FIGURE.finditer(text) if letter else ():
        if found.group(3) == letter:
            # "62 x 36 x 34 in W/D/H" names the unit once: the first one in the text.
            unit = found.group(2) or next((m.group(2) for m in MEASURE.finditer(text)), None)
            if unit:
                return in_base(found.group(1), unit)
    quantities = [m for m in measures(text) if base is None or m.base == base]
    return quantities[0] if quantities else None
