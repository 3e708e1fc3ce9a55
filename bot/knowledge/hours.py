"""Support hours as written in store.toml ("Mon-Fri 8:00-18:00 MT"), read well enough to tell a
shopper whether a person is around now. Anything it cannot read is quoted back as written."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPAN = re.compile(
    r"\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*(?:\s*[-–]\s*(mon|tue|wed|thu|fri|sat|sun)[a-z]*)?\s+"
    r"(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?",
    re.I,
)


def _spans(hours: str) -> list[tuple[list[int], time, time]] | None:
    """(weekdays, opens, closes) per span; None when any span does not read as one."""
    spans = []
    for first, last, h1, m1, h2, m2 in _SPAN.findall(hours):
        start_day, end_day = _DAYS.index(first.lower()[:3]), _DAYS.index((last or first).lower()[:3])
        days = (
            list(range(start_day, end_day + 1)) if start_day <= end_day else [*range(start_day, 7), *range(end_day + 1)]
        )
        try:
            opens = time(int(h1), int(m1 or 0))
            closes = time(23, 59, 59) if (int(h2), int(m2 or 0)) == (24, 0) else time(int(h2), int(m2 or 0))
        except ValueError:  # "9:60", "25:00": not a time, so not something to promise a shopper
            return None
        if closes <= opens:
            return None  # "9-5" (5 in the afternoon?) or a span past midnight: quoted, not guessed
        spans.append((days, opens, closes))
    return spans or None


def open_now(hours: str, timezone: str, now: datetime | None = None) -> bool | None:
    """True or False when `hours` reads as day spans with times; None when it does not."""
    spans = _spans(hours)
    if spans is None:
        return None
    local = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone))
    return any(local.weekday() in days and opens <= local.time() < closes for days, opens, closes in spans)


def next_opening(hours: str, timezone: str, now: datetime | None = None) -> datetime | None:
    """When the team is next at work (local time of the shop), or None when `hours` does not
    read as spans. Within a week by construction: every span names a weekday."""
    spans = _spans(hours)
    if spans is None:
        return None
    zone = ZoneInfo(timezone)
    local = (now or datetime.now(ZoneInfo("UTC"))).astimezone(zone)
    starts = []
    for ahead in range(8):
        day = (local + timedelta(days=ahead)).date()
        for days, opens, _ in spans:
            start = datetime.combine(day, opens, tzinfo=zone)
            if day.weekday() in days and start > local:
                starts.append(start)
    return min(starts) if starts else None


def when(start: datetime, now: datetime | None = None) -> str:
    """ "today at 8:00", "tomorrow at 8:00", "Monday at 8:00": how a shopper reads it."""
    local_now = (now or datetime.now(ZoneInfo("UTC"))).astimezone(start.tzinfo)
    days = (start.date() - local_now.date()).days
    day = "today" if days == 0 else "tomorrow" if days == 1 else start.strftime("%A")
    return f"{day} at {start.hour}:{start.minute:02d}"
