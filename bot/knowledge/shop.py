"""A shop's store folder, loaded: profile (store.toml), catalog, policy and FAQ passages, orders.

    store/
      store.toml       shop name, currency, timezone, support hours, contact e-mail, voice
      catalog.csv      a Shopify product export      } either file, or both
      catalog.jsonl    shopbot's own product schema }
      policies/*.md    split on headings into passages
      faq.md           "## question" headings, each followed by its answer
      orders.jsonl     order records (a stand-in for the shop's order system)

A malformed file gets a problem naming the file, the row or line and what is wrong; the rest
of the folder still loads.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.knowledge.catalog import Product, read_catalog_jsonl, read_shopify_csv
from bot.knowledge.orders import FileOrders, Order, read_orders
from bot.knowledge.passages import Passage, read_markdown
from bot.knowledge.problems import Problem, Problems

DEMO_SHOP = Path(__file__).resolve().parent.parent / "demo_shop"


class ShopProfile(BaseModel):
    name: str = Field(min_length=1)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    timezone: str = "UTC"
    support_email: str = Field("", pattern=r"^$|^[^@\s]+@[^@\s]+$")
    support_hours: str = ""
    voice: str = "friendly, concise"
    # How the shop writes money and dates ("de_DE": "7,90 €"); empty: the currency's usual way.
    locale: str = Field("", pattern=r"^$|^[a-z]{2,3}(_[A-Z]{2})?$")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value


@dataclass
class Shop:
    """Everything the assistant may state as fact about one shop."""

    folder: Path
    profile: ShopProfile
    products: list[Product] = field(default_factory=list)  # all of them; `offered` filters
    passages: list[Passage] = field(default_factory=list)
    orders: FileOrders = field(default_factory=lambda: FileOrders([]))
    problems: list[Problem] = field(default_factory=list)

    @property
    def offered(self) -> list[Product]:
        return [p for p in self.products if p.offered]

    def summary(self) -> str:
        files = sorted({p.file for p in self.passages})
        lines = [
            f"{self.profile.name} ({self.folder})",
            f"  products: {len(self.products)} loaded, {len(self.offered)} offered "
            f"({sum(len(p.variants) for p in self.offered)} variants)",
            f"  passages: {len(self.passages)} from {len(files)} file(s)",
            f"  orders:   {len(self.orders)}",
        ]
        if self.problems:
            lines.append(f"  problems: {len(self.problems)}")
            lines += [f"    {problem}" for problem in self.problems]
        else:
            lines.append("  problems: none")
        return "\n".join(lines)


def _profile(folder: Path, problems: Problems) -> ShopProfile:
    path = folder / "store.toml"
    if not path.exists():
        problems.add("store.toml", "", f"missing; using the folder name {folder.name!r} as the shop's name")
        return ShopProfile(name=folder.name)
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        problems.add("store.toml", "", f"cannot read it as TOML: {exc}")
        return ShopProfile(name=folder.name)
    try:
        return ShopProfile.model_validate(data)
    except ValidationError as exc:
        bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        for error in exc.errors():
            problems.add("store.toml", f"key {'.'.join(map(str, error['loc'])) or '?'}", error["msg"])
        # Keep what is valid; a bad key falls back to its default (the name to the folder's).
        kept = {k: v for k, v in data.items() if k in ShopProfile.model_fields and k not in bad}
        return ShopProfile.model_validate({"name": folder.name, **kept})


def load_shop(folder: Path) -> Shop:
    """Read a store folder. Never raises for bad content: problems are listed in `Shop.problems`."""
    problems = Problems()
    if not folder.is_dir():
        problems.add(str(folder), "", "not a folder")
        return Shop(folder, ShopProfile(name=folder.name or "shop"), problems=problems.items)
    profile = _profile(folder, problems)

    products: dict[str, Product] = {}
    for path, reader in ((folder / "catalog.csv", read_shopify_csv), (folder / "catalog.jsonl", read_catalog_jsonl)):
        if not path.exists():
            continue
        for product in reader(path, problems):
            if product.id in products:
                problems.add(path.name, "", f"product id {product.id!r} is already in the catalog; the first is kept")
                continue
            products[product.id] = product
    if not products:
        problems.add("catalog.csv", "", "no catalog.csv or catalog.jsonl with products")

    passages: list[Passage] = []
    for path in sorted((folder / "policies").glob("*.md")):
        passages += read_markdown(path, f"policies/{path.name}", problems)
    if (folder / "faq.md").exists():
        passages += read_markdown(folder / "faq.md", "faq.md", problems)

    orders: list[Order] = read_orders(folder / "orders.jsonl", problems) if (folder / "orders.jsonl").exists() else []
    return Shop(folder, profile, list(products.values()), passages, FileOrders(orders), problems.items)
