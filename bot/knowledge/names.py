"""Which products and which kinds of product a message names, the way shoppers name them: in
part ("the pocketcell 20000"), misspelt (corrected before this by bot.knowledge.spelling),
joined or split ("pocket cell", "usbc"), with or without accents.

A product's title words are weighted by how rare they are among the shop's titles (a brand on
every title says little, "20000" a lot). A product is named when the message uses most of its
title's weight; several products can be named in one message ("which is lighter, A or B?"):
the best is taken, its words set aside, and the rest searched again. Drafts and archived
products are named too, so that "is the Cassis dress still available?" can be told it is not.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.knowledge.catalog import Product
from bot.knowledge.text import STOPWORDS, compact, fold, stem, tokens

_PARENTHESIS = re.compile(r"\([^)]*\)")
# Words in a title that say which variant or size it is, not what it is ("Jacket 2.0", "Set of 3").
_NOT_KINDS = {"set", "pack", "kit", "edition", "collection", "bundle", "mini", "max", "pro", "plus", "new"}
# A message must use at least this share of the weight of a title's name words (those that do
# not say its kind) to name the product; the second product of a comparison, less.
_COVERAGE = 0.5
_LOOSE_COVERAGE = 0.25
# A title with a name of its own ("Squall": on no other title, no everyday word) is named by it,
# or by most of the title; a brand on many titles ("Lumenfox") may be left out.
_EVERYDAY_COVERAGE = 0.75
# A message that asks for another kind of thing must use this much of a title to name it.
_OTHER_KIND_COVERAGE = 0.75
# A word shorter than this is an acronym ("PD", "ANC"), not a product's own name.
_NAME_LETTERS = 4
# Titles whose best score is within this share of the best are named together (ambiguous).
_TIE = 0.9


def _title_words(title: str) -> list[str]:
    return [w for w in tokens(compact(title)) if w not in STOPWORDS]


def _parts(joined: str, words: Sequence[str]) -> list[str]:
    """The two neighbouring words a joined word was made of ("pocketcell" <- pocket, cell)."""
    for a, b in zip(words, words[1:], strict=False):
        if a + b == joined:
            return [a, b]
    return []


def _described_as(product: Product, head: str) -> bool:
    """Whether the description calls the product `head` other than in its name."""
    name = _title_words(product.title)
    words = tokens(product.description)
    target = stem(head)
    for i, word in enumerate(words):
        if stem(word) == target and (i == 0 or words[i - 1] not in name):
            return True
    return False


def _joined(words: Sequence[str]) -> list[str]:
    """The words and every pair joined ("pocket", "cell" -> "pocketcell"): shoppers write
    names together and apart."""
    return [*words, *(a + b for a, b in zip(words, words[1:], strict=False))]


@dataclass(frozen=True)
class Named:
    product: Product
    score: float  # the weight of its title words the message uses
    coverage: float  # that weight's share of the title's
    used: frozenset[str]  # the message's words it took


# Where a title's name of the thing ends: "Screen Protector for iPhone 15", "Case with Stand".
_QUALIFIER = re.compile(r"\s+(?:for|with|in|by|from|on)\s+.*$|\s+[-–|]\s+.*$|\(.*$|,.*$", re.I)
_NOT_KINDS |= {"series", "edition", "version", "model", "gen", "generation", "ii", "iii", "xl"}


def name_part(title: str) -> str:
    """A title without what follows its name of the thing ("Case for iPhone 15" -> "Case")."""
    return _QUALIFIER.sub("", title)


def title_head(title: str) -> str | None:
    """The word of a title that says what the thing is: its last word before any "for ...",
    "with ...", "(...)" ("Tempered Glass Screen Protector for iPhone 15 (2-Pack)" -> protector)."""
    words = [w for w in _title_words(_QUALIFIER.sub("", title)) if w.isalpha() and len(w) > 2]
    return words[-1] if words and words[-1] not in _NOT_KINDS else None


def kind_stems(word: str) -> set[str]:
    """A word's stem, and for "-ves" plurals the singular's ("scarves" -> scarf, "knives" -> knife):
    the stemmer leaves "scarv" where a shopper types "scarf"."""
    found = {stem(word)}
    if word.endswith("ves") and len(word) > 4:
        found |= {stem(word[:-3] + "f"), stem(word[:-3] + "fe")}
    return found


def type_kinds(product: Product) -> set[str]:
    kinds = {k for w in tokens(product.type) if w not in STOPWORDS and w.isalpha() for k in kind_stems(w)}
    return kinds - {stem(w) for w in _NOT_KINDS}


class CatalogNames:
    """The product titles and kinds of one shop, ready to be looked for in a message."""

    def __init__(
        self,
        products: Sequence[Product],
        common: Callable[[str], bool] = lambda word: False,
        brand: str = "",
    ) -> None:
        self._products = list(products)
        heads = {p.id: title_head(p.title) for p in self._products}
        self._heads = heads
        shared = {h for h in heads.values() if h and sum(1 for other in heads.values() if other == h) >= 2}
        self._kinds: dict[str, set[str]] = {}
        self.kinds: dict[str, set[str]] = defaultdict(set)  # kind stem -> product ids
        for product in self._products:
            kinds = type_kinds(product)
            head = heads[product.id]
            # A title's head word is a kind when other titles end in it too ("Shirt"), the
            # product's description calls it that apart from its name ("a cable-knit turtleneck"),
            # or the shop tags it so while its type is no word of its title ("Chain Lube", of
            # the type "Maintenance", tagged "lube"; not "Bed Frame", of the type "Beds").
            title_stems = {stem(w) for w in tokens(product.title)}
            tag_stems = {stem(w) for tag in product.tags for w in tokens(compact(tag))}
            tagged = bool(head) and not kinds & title_stems and stem(head or "") in tag_stems
            if head and (head in shared or tagged or _described_as(product, head)):
                kinds |= kind_stems(head)
            self._kinds[product.id] = kinds
            for kind in kinds:
                self.kinds[kind].add(product.id)
        # The shop's own name is on half its titles ("Volt & Cable Gift Card"): it names no
        # product (but "cable" still names the kind).
        own = {w for w in tokens(brand) if w not in STOPWORDS}
        self._titles = {
            p.id: [w for w in dict.fromkeys(_title_words(p.title)) if w not in own or stem(w) in self._kinds[p.id]]
            for p in self._products
        }
        frequency: dict[str, int] = defaultdict(int)
        for words in self._titles.values():
            for word in words:
                frequency[word] += 1
        total = max(len(self._products), 1)
        self._frequency = dict(frequency)
        # How many offered titles have the word: "the ridgeline" names the one Ridgeline on sale,
        # whatever drafts share the name.
        self._offered_frequency: dict[str, int] = defaultdict(int)
        for product in self._products:
            if product.offered:
                for word in self._titles[product.id]:
                    self._offered_frequency[word] += 1
        # A title word other products' descriptions use too ("tubeless", said of four tyres)
        # describes rather than names: it weighs as if on those titles as well ("Roadster",
        # in no other text, names the one tyre).
        described: dict[str, int] = defaultdict(int)
        for product in self._products:
            own = set(self._titles[product.id])
            for word in set(tokens(compact(product.description))) & frequency.keys() - own:
                described[word] += 1
        self._weight = {word: math.log(1 + total / (count + described[word])) for word, count in frequency.items()}
        # Title word -> the products whose title has it, and its stem -> those words.
        self._holders: dict[str, list[str]] = defaultdict(list)
        self._by_stem: dict[str, set[str]] = defaultdict(set)
        for product_id, words in self._titles.items():
            for word in words:
                self._holders[word].append(product_id)
                self._by_stem[stem(word)].add(word)
        self._vocabulary = sorted(self._holders)
        self._by_id = {p.id: p for p in self._products}
        # The stems of each offered product's name (its title up to "for ..."), for requests.
        self._name_stems = [frozenset(stem(w) for w in tokens(name_part(p.title))) for p in self._products if p.offered]
        self._common = common

    def kinds_of(self, product: Product) -> set[str]:
        return self._kinds.get(product.id) or type_kinds(product)

    def weight(self, word: str) -> float:
        return self._weight.get(word, 0.0)

    def _title_word(self, typed: str) -> set[str]:
        """The title words a typed word (or pair of words joined) stands for."""
        found = set(self._by_stem.get(stem(typed), ()))
        if typed in self._holders:
            found.add(typed)
        if typed.isdigit():
            # "the trailhound 29" is the "29er": a number with the letters a title puts after it.
            found |= {w for w in self._vocabulary if w.startswith(typed) and w[len(typed) :].isalpha()}
        if not found and len(typed) >= 5:
            for word, _score, _ in process.extract(
                typed, self._vocabulary, scorer=fuzz.ratio, score_cutoff=88, limit=2
            ):
                if len(word) >= 6:
                    found.add(word)
        return found

    def named(self, words: Sequence[str], most: int = 4, *, loose: bool = False) -> list[Named]:
        """The products the words name, best first: the best match, then (its words set aside)
        the best of the rest, and so on. Equally good matches of the same words are all named
        ("the kestrel buds" when there are three). `loose`: after the first, a product is named by
        less of its title (a comparison: "the linden bed or the saxon bed")."""
        said = [fold(w) for w in words]
        found: list[Named] = []
        while len(found) < most:
            coverage = _LOOSE_COVERAGE if loose and found else _COVERAGE
            matches = self._matches(said, exclude={f.product.id for f in found}, least=coverage)
            if not matches:
                break
            best = max(m.score for m in matches)
            top = sorted((m for m in matches if m.score >= best * _TIE), key=lambda m: -m.score)
            found += top[: most - len(found)]
            remaining = list(said)
            for used in {w for m in top for w in m.used}:
                # One mention each: "pocketcell 10000 or solarcell 10000" names two products.
                for part in [used] if used in remaining else _parts(used, remaining):
                    remaining.remove(part)
            if len(remaining) == len(said):
                break
            said = remaining
        return found

    def _matches(self, said: Sequence[str], exclude: set[str], least: float = 0.5) -> list[Named]:
        said_kinds = self.kinds_named(said)
        hits: dict[str, dict[str, str]] = defaultdict(dict)  # product id -> title word -> typed word
        for typed in _joined([w for w in said if w not in STOPWORDS]):
            for word in self._title_word(typed):
                for product_id in self._holders[word]:
                    hits[product_id].setdefault(word, typed)
        matches = []
        for product_id, matched in hits.items():
            if product_id in exclude:
                continue
            product = self._by_id[product_id]
            kinds = self.kinds_of(product)
            names = [w for w in self._titles[product_id] if stem(w) not in kinds]
            named = [w for w in matched if stem(w) not in kinds]
            if not named:
                continue  # kind words alone ("linen shirt") name a kind, not a product
            if all(typed.isdigit() for typed in matched.values()):
                continue  # a number alone ("the derivative of x^2") names no "Lodgepole 2P"
            whole = sum(self._weight[w] for w in names) or 1.0
            coverage = sum(self._weight[w] for w in named) / whole
            if said_kinds & kinds:
                # The kind said counts too: "the halden dining table" names "Halden Solid Oak
                # Dining Table" (shoppers leave out "solid oak"), not "Halden Oak Coffee Table".
                titled = self._titles[product_id]
                coverage = max(
                    coverage, sum(self._weight[w] for w in matched) / (sum(self._weight[w] for w in titled) or 1.0)
                )
            # One word only this title has names it, when it is no everyday word or comes with
            # the product's kind: "the camargue", "the studio headphones" (not "travel"). Not a
            # bare number, and not when the message asks for another kind ("an hdmi cable" is no
            # "HDMI adapter").
            other_kind = bool(said_kinds) and not (said_kinds & kinds)
            uncommon = any(not self._common(w) for w in named)
            if other_kind and (coverage < _OTHER_KIND_COVERAGE or not uncommon):
                continue  # "700x40 tyres for my commute" names no "Commuter Helmet"
            telling = not other_kind and any(
                not w.isdigit()
                and (
                    (
                        (self._offered_frequency[w] if product.offered else self._frequency[w]) == 1
                        and (not self._common(w) or said_kinds & kinds)
                    )
                    or (self._frequency[w] <= 2 and said_kinds & kinds and not self._common(w))
                )
                for w in named
            )
            if coverage < least and not telling:
                continue
            if not product.offered and coverage < _EVERYDAY_COVERAGE and not uncommon:
                continue  # a draft is named by its name ("the Squall"), not by "board" or "reading"
            head = self._heads.get(product_id)
            # Its own name: a word of the title outside any parenthesis, longer than an acronym
            # ("PD", "MFi" and "(MFi Certified)" say what it is, not what it is called).
            bare = set(tokens(compact(_PARENTHESIS.sub(" ", product.title))))
            own_names = [
                w
                for w in names
                # The head is the kind ("Jacket"), unless it is no kind: "Carré" is as much the
                # "Jardin Silk Carré"'s name as "Jardin".
                if w.isalpha() and len(w) >= _NAME_LETTERS and w in bare and (w != head or stem(w) not in kinds)
                and not self._common(w) and self._frequency[w] == 1
            ]  # fmt: skip
            if coverage < _EVERYDAY_COVERAGE and own_names and not set(own_names) & set(matched):
                continue  # "waterproof jackets" names no "Squall Waterproof Jacket": "Squall" is its name
            score = sum(self._weight[w] for w in matched) + coverage
            matches.append(Named(product, score, coverage, frozenset(matched.values())))
        return matches

    def in_one_name(self, words: Sequence[str]) -> bool:
        """Whether one offered product's name has every one of the words ("cashmere" in the
        "Cashmere Travel Stole"; not "iphones" of a "Case for iPhone 15": what it is for)."""
        wanted = {stem(fold(w)) for w in words}
        return bool(wanted) and any(wanted <= name for name in self._name_stems)

    def kinds_named(self, words: Sequence[str]) -> set[str]:
        """The kind stems the words name ("jackets" -> jacket, "scarves" -> scarf)."""
        return {k for w in words for k in kind_stems(fold(w))} & set(self.kinds)

    def of_kinds(self, kinds: set[str]) -> list[Product]:
        ids = set().union(*(self.kinds[k] for k in kinds)) if kinds else set()
        return [p for p in self._products if p.id in ids]
