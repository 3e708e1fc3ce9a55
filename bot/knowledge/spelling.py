"""Shoppers' typos and shorthand, corrected toward the shop's own words: "whats the prise of
the ridgline daypak" -> "what is the price of the ridgeline daypack".

SymSpell (symspellpy) looks up every word within two edits in a dictionary of the shop's words
(its titles, kinds, options, policies). A word is corrected only when it is not English, or when
it is an English word far rarer than the shop's word one edit away ("prise" for "price"): a
shopper who writes a real word usually means it. English word counts come from the frequency
list symspellpy ships (82,765 words), read once per process.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache

import symspellpy
from symspellpy import SymSpell, Verbosity

# Chat shorthand, spelled out before anything else reads the message.
SHORTHAND = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thank you",
    "tysm": "thank you so much",
    "rn": "right now",
    "asap": "as soon as possible",
    "bc": "because",
    "cuz": "because",
    "whats": "what is",
    "wats": "what is",
    "hows": "how is",
    "wheres": "where is",
    "whens": "when is",
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "cant": "can not",
    "wont": "will not",
    "isnt": "is not",
    "im": "i am",
    "ive": "i have",
    "wanna": "want to",
    "gonna": "going to",
    "gotta": "have to",
    "smth": "something",
    "sth": "something",
    "b4": "before",
    "2day": "today",
    "tmrw": "tomorrow",
    "nvm": "never mind",
    "diff": "difference",
    "btw": "by the way",
    "idk": "i do not know",
    "k": "ok",
    "kk": "ok",
    "yep": "yes",
    "yup": "yes",
    "nope": "no",
}

# How much more common (in English) the shop's word must be than a real English word the
# shopper typed for the typed word to count as a typo: "prise" 0.3M, "price" 187M.
_RARER = 100


@cache
def english_counts() -> dict[str, int]:
    path = os.path.join(os.path.dirname(symspellpy.__file__), "frequency_dictionary_en_82_765.txt")
    counts = {}
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            word, _, count = line.partition(" ")
            counts[word] = int(count)
    return counts


class Spelling:
    """Corrects words toward one shop's vocabulary."""

    def __init__(self, shop_words: Iterable[str]) -> None:
        self._counts = Counter(word for word in shop_words if len(word) >= 3 and word.isalpha())
        self._symspell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word, count in self._counts.items():
            self._symspell.create_dictionary_entry(word, count)
        self._english = english_counts()

    def known(self, word: str) -> bool:
        return word in self._counts or word in self._english

    def known_to_shop(self, word: str) -> bool:
        """Whether the shop's own texts use the word."""
        return word in self._counts

    def correct_word(self, word: str) -> str:
        """The shop's word a typed word was meant to be, or the word itself."""
        if len(word) < 4 or not word.isalpha() or word in self._counts:
            return word
        english = self._english.get(word, 0)
        # Short words change meaning with one edit too easily ("tent" / "rent").
        distance = 1 if len(word) <= 5 or english else 2
        found = self._symspell.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        if not found:
            return word
        best = max(found, key=lambda item: (self._counts[item.term], self._english.get(item.term, 0)))
        if english and self._english.get(best.term, 0) < english * _RARER:
            return word  # a real word the shopper meant
        return str(best.term)

    def correct(self, words: Sequence[str]) -> list[str]:
        """Shorthand spelled out and typos corrected, word by word."""
        out: list[str] = []
        for word in words:
            long = SHORTHAND.get(word)
            if long is not None:
                out += long.split()
            else:
                out.append(self.correct_word(word))
        return out
