"""One store folder made ready to answer from: its vocabulary for correcting typos, its product
names and kinds, its evidence units with their vectors, its order lookup. Built whole before it
replaces the previous one (a reload swaps it in one assignment)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.knowledge.catalog import Product, Variant
from bot.knowledge.evidence import EvidenceIndex, Unit, passage_units, pointers, product_units
from bot.knowledge.facts import offer, offer_phrase
from bot.knowledge.money import locale_for
from bot.knowledge.names import CatalogNames
from bot.knowledge.order_lookup import OrderLookup
from bot.knowledge.passages import Passage
from bot.knowledge.shop import Shop
from bot.knowledge.spelling import Spelling, english_counts
from bot.knowledge.text import compact, tokens
from bot.store import Store
from bot.understanding.encoder import SentenceEncoder

# Words shoppers use about any shop, so that their typos are corrected too ("shiping").
_SHOP_WORDS = (
    "price prices cost shipping delivery deliver return returns refund exchange warranty guarantee order orders "
    "tracking stock available size sizes colour color colours colors discount payment pay invoice account "
    "cheaper cheapest waterproof recommend suggest gift difference compare"
)
# An English word this common is an everyday word, not a product's name (names.CatalogNames).
_EVERYDAY = 2_000_000


@dataclass(frozen=True)
class ShopIndex:
    shop: Shop
    locale: str
    names: CatalogNames  # every product, offered or not: "we don't sell that" needs the others
    spelling: Spelling
    evidence: EvidenceIndex
    orders: OrderLookup
    product_units: dict[str, list[Unit]] = field(default_factory=dict)  # offered product id -> its units
    policy_units: list[Unit] = field(default_factory=list)
    variants: dict[str, str] = field(default_factory=dict)  # SKU -> variant label
    # The words of product names and options: in the shop's language whatever the shopper's.
    name_words: frozenset[str] = frozenset()
    # Headings other passages point to ("see the taste promise below"), with how they are pointed to.
    pointers: list[tuple[Passage, re.Pattern[str]]] = field(default_factory=list)

    def is_name_word(self, word: str) -> bool:
        return word in self.name_words

    @property
    def currency(self) -> str:
        return self.shop.profile.currency

    def offer(self, product: Product, variants: list[Variant] | None = None) -> str:
        return offer(product, self.currency, self.locale, variants)

    def offer_phrase(self, product: Product, variants: list[Variant] | None = None) -> str:
        return offer_phrase(product, self.currency, self.locale, variants)

    def offered(self, product: Product) -> bool:
        return product.id in self.product_units


def shop_words(shop: Shop) -> list[str]:
    texts = [f"{p.title} {p.type} {p.vendor} {' '.join(p.tags)} {p.description}" for p in shop.products]
    texts += [" ".join(value for v in p.variants for value in v.options.values()) for p in shop.products]
    texts += [f"{p.heading} {p.text}" for p in shop.passages]
    texts.append(_SHOP_WORDS)
    return [word for text in texts for word in tokens(compact(text))]


def build_index(shop: Shop, store: Store, encoder: SentenceEncoder | None) -> ShopIndex:
    """Blocking (the encoder reads every unit once): call it off the event loop."""
    locale = locale_for(shop.profile.currency, shop.profile.locale)
    english = english_counts()
    by_product: dict[str, list[Unit]] = {}
    for product in shop.offered:
        by_product[product.id] = product_units(
            product, lambda p, v: offer(p, shop.profile.currency, locale, [v] if v else None)
        )
    policies = passage_units(shop.passages)
    units = [u for found in by_product.values() for u in found] + policies
    return ShopIndex(
        shop=shop,
        locale=locale,
        names=CatalogNames(
            shop.products, common=lambda word: english.get(word, 0) > _EVERYDAY, brand=shop.profile.name
        ),
        spelling=Spelling(shop_words(shop)),
        evidence=EvidenceIndex(units, encoder),
        orders=OrderLookup(shop.orders, store),
        product_units=by_product,
        policy_units=policies,
        variants={v.sku: v.label for p in shop.products for v in p.variants if v.sku and v.label},
        pointers=pointers(shop.passages),
        name_words=frozenset(
            w
            for p in shop.products
            for w in tokens(f"{p.title} {p.vendor} {' '.join(x for v in p.variants for x in v.options.values())}")
        ),
    )
