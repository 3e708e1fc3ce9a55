"""Support hours as written in store.toml ("Mon-Fri 8:00-18:00 MT"), read well enough to tell a
shopper whether a person is around now. Anything it cannot read is quoted back as written."""

from __future__ import annotations

import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPAN = re.compile(
    r"\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*(?:\s*[-–]\s*(mon|tue|wed|thu|fri|sat|sun)[a-z]*)?\s+"
    r"(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?",
    re.I,
)


def open_now(hours: str, timezone: str, now: datetime | None = None) -> bool | None:
    """True or False when `hours` reads as day spans with times; None when it does not."""
    spans = _SPAN.findall(hours)
    if not spans:
        return None
    local = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone))
    for first, last, h1, m1, h2, m2 in spans:
        start_day, end_day = _DAYS.index(first.lower()[:3]), _DAYS.index((last or first).lower()[:3])
        days = range(start_day, end_day + 1) if start_day <= end_day else [*range(start_day, 7), *range(end_day + 1)]
        try:
            opens = time(int(h1), int(m1 or 0))
            closes = time(23, 59, 59) if (int(h2), int(m2 or 0)) == (24, 0) else time(int(h2), int(m2 or 0))
        except ValueError:  # "9:60", "25:00": not a time, so not something to promise a shopper
            return None
        if closes <= opens:
            return None  # "9-5" (5 in the afternoon?) or a span past midnight: quoted, not guessed
        if local.weekday() in days and opens <= local.time() < closes:
            return True
    return False
