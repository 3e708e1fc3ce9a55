"""Money as a shop writes it, and figures as anyone writes them.

Written with Babel in the shop's locale ("7,90 €" for de_DE, "¥1,200", "$49.99"). Read back
from any text, a figure can mean more than one amount: "1,200" is twelve hundred in English and
one point two in German, "7,90" is seven euros ninety. `figure_values` gives every reading, so
the checker accepts any correct rendering of an amount and still refuses a wrong one (the old
reading of "7,90 €" as the two numbers 7 and 90 let a reply say "7" about a 7,90 € stamp).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

# The locale a shop's money is written in when its store.toml names none.
_DEFAULT_LOCALE = {"USD": "en_US", "GBP": "en_GB", "EUR": "en_IE", "JPY": "en_US", "AUD": "en_AU", "CAD": "en_CA"}

# A figure: digits with thousands groups (",", ".", spaces) and a decimal part, or plain digits.
FIGURE = re.compile(
    r"(?<![\w.,])\d{1,3}(?:(?:[,.]|[ \u00a0\u202f](?=\d{3}\b))\d{3})+(?:[.,]\d+)?(?![\w])|(?<![\w.,])\d+(?:[.,]\d+)?(?![\w])"
)
_SPACES = re.compile(r"[ \u00a0\u202f]")


def locale_for(currency: str, locale: str | None = None) -> str:
    """The shop's locale when it names a valid one, else one usual for its currency."""
    if locale:
        try:
            Locale.parse(locale)
            return locale
        except (UnknownLocaleError, ValueError):
            pass
    return _DEFAULT_LOCALE.get(currency, "en_US")


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """ "$49.99", "149,00 €", "¥1,200": the amount as the shop writes it. Babel's fullwidth
    yen ("￥") and narrow spaces are written as plain characters a shopper can type back."""
    text = format_currency(amount, currency, locale=locale)
    return text.replace("\uffe5", "¥").replace("\u202f", " ").replace("\u00a0", " ")


def _value(text: str) -> Decimal | None:
    try:
        return Decimal(text).normalize()
    except InvalidOperation:
        return None


def figure_values(figure: str) -> set[Decimal]:
    """Every amount a written figure can mean: "1,200" -> {1200, 1.2}; "7,90" -> {7.9};
    "1.234,50" -> {1234.5}; "12" -> {12}."""
    text = _SPACES.sub("", figure)
    readings: list[str] = []
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        group = "." if decimal == "," else ","
        readings.append(text.replace(group, "").replace(decimal, "."))
    elif "," in text or "." in text:
        mark = "," if "," in text else "."
        parts = text.split(mark)
        if len(parts) > 2:  # "1,234,567": only groups
            readings.append(text.replace(mark, ""))
        else:
            if len(parts[1]) == 3:
                readings.append(text.replace(mark, ""))  # a thousands group
            readings.append(text.replace(mark, "."))  # a decimal mark
    else:
        readings.append(text)
    return {value for value in map(_value, readings) if value is not None}


def amounts(text: str) -> set[Decimal]:
    """Every reading of every figure in `text`."""
    found: set[Decimal] = set()
    for match in FIGURE.finditer(text):
        found |= figure_values(match.group(0))
    return found
