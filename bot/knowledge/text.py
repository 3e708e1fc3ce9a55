"""Words and sentences, one way for the whole project: folding (case and accents), tokens,
stems (Snowball, as retrieval's BM25 stems) and sentence splitting."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer

# An e-mail address as shoppers paste it (in any case).
EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")

STEMMER = Stemmer.Stemmer("english")
_TOKEN = re.compile(r"[a-z0-9]+")
# A sentence ends at . ! ? followed by a space and not inside a number ("2.5 cm") or an
# abbreviation of one letter ("e.g."), and at every line break (list items, table rows).
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<![A-Za-z]\.[A-Za-z]\.)(?<!\b[A-Za-z]\.)\s+(?=[\"'(\[]?[A-Z0-9¡¿]|[-•*] )|\n+")

# Words that say nothing about what a shopper asks for.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "or",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "at",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "do",
        "does",
        "did",
        "you",
        "your",
        "my",
        "i",
        "me",
        "we",
        "our",
        "us",
        "it",
        "its",
        "it's",
        "this",
        "that",
        "these",
        "those",
        "there",
        "any",
        "all",
        "some",
        "what",
        "which",
        "who",
        "how",
        "can",
        "could",
        "would",
        "will",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "not",
        "no",
        "yes",
        "if",
        "so",
        "just",
        "also",
        "than",
        "then",
        "too",
        "very",
        "about",
        "into",
        "up",
        "out",
        "please",
        "pls",
        "hi",
        "hey",
        "hello",
        "thanks",
        "thank",
        "u",
        "ur",
        "im",
        "i'm",
        "id",
        "i'd",
        "get",
        "got",
        "want",
        "need",
        "like",
    ]
)


def fold(text: str) -> str:
    """Lower case without accents: "Lubéron" and "luberon" are the same word to a shopper."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# "U-Lock", "t-shirt": one word, as shoppers also write it ("ulock"), and no "you" for the "u";
# "7-in-1", "3 in 1": one word too, so the numbers name the thing together.
_LETTER_HYPHEN = re.compile(r"\b([a-z])-(?=[a-z]{2})", re.I)
_N_IN_M = re.compile(r"\b(\d+)[- ]in[- ](\d+)\b", re.I)


def compact(text: str) -> str:
    """A text with the compound names written as one word ("U-Lock" -> "ULock", "7-in-1" -> "7in1")."""
    return _N_IN_M.sub(r"\1in\2", _LETTER_HYPHEN.sub(r"\1", text))


def tokens(text: str) -> list[str]:
    """The words and numbers of a text, folded, in order ("USB-C 2m" -> usb, c, 2m)."""
    return _TOKEN.findall(fold(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(STEMMER.stemWord(word))


def stems(text: str, *, keep_stopwords: bool = False) -> set[str]:
    return {stem(t) for t in tokens(text) if keep_stopwords or t not in STOPWORDS}


_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*•]|\d{1,2}[.)])[ \t]+", re.M)
# A line break inside a paragraph is only wrapping (Markdown written at 80 columns); one before a
# list item, a table row or a blank line ends something.
_WRAP = re.compile(r"(?<=\S)[ \t]*\n(?![ \t]*(?:[-*•|]|\d{1,2}[.)]|\n))[ \t]*")


def sentences(text: str) -> list[str]:
    """A text's sentences and list items ("1. Write to us" is one), whitespace made single
    spaces, list markers gone."""
    found: list[str] = []
    for part in _SENTENCE_END.split(_LIST_MARKER.sub("\n", _WRAP.sub(" ", text))):
        line = " ".join(part.split()).strip()
        if not line:
            continue
        if found and found[-1].endswith(":") and len(found[-1]) < 60:
            found[-1] = f"{found[-1]} {line}"  # "How to return:" leads into its first step
        else:
            found.append(line)
    return found
