"""The shop's products: read from a Shopify product CSV export or shopbot's own JSONL schema.

Prices are Decimals from the first byte to the last: a float never touches a price.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.knowledge.problems import Problems

Status = Literal["active", "draft", "archived"]
# Shopify's "Variant Inventory Policy": "continue" keeps selling a variant when none are left
# (made to order, backorder); "deny" stops at zero.
InventoryPolicy = Literal["deny", "continue"]


class Variant(BaseModel):
    sku: str = ""
    options: dict[str, str] = Field(default_factory=dict)
    price: Decimal
    compare_at_price: Decimal | None = None
    stock: int | None = None  # None: the shop does not track it
    inventory_policy: InventoryPolicy = "deny"

    @field_validator("price", "compare_at_price", mode="before")
    @classmethod
    def _decimal_text(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(f'prices are decimal strings like "24.00", not the number {value!r}')
        return value

    @field_validator("price", "compare_at_price")
    @classmethod
    def _not_negative(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and (not value.is_finite() or value < 0):
            raise ValueError(f"{value} is not a price")
        return value

    @property
    def on_sale(self) -> bool:
        return self.compare_at_price is not None and self.compare_at_price > self.price

    @property
    def in_stock(self) -> bool:
        return self.stock is None or self.stock > 0

    @property
    def orderable(self) -> bool:
        """It can be ordered now: in stock, or sold on when none are left (backorder)."""
        return self.in_stock or self.inventory_policy == "continue"

    @property
    def label(self) -> str:
        """ "Blue / 750 ml", or "" for a product without options."""
        return " / ".join(self.options.values())


class Product(BaseModel):
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    description: str = ""
    vendor: str = ""
    type: str = ""
    tags: list[str] = Field(default_factory=list)
    url: str | None = None
    variants: list[Variant] = Field(min_length=1)
    status: Status = "active"
    published: bool = True

    @property
    def offered(self) -> bool:
        """Only active, published products are offered to shoppers."""
        return self.status == "active" and self.published

    @property
    def lowest_price(self) -> Decimal:
        return min(v.price for v in self.variants)


# -- HTML -----------------------------------------------------------------------------------

_BLOCKS = {"p", "div", "br", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6"}


class _Text(HTMLParser):
    """Blocks on their own lines, list items as "- ", and a table as Markdown table lines (so
    that a size table in a description is read like one in a policy: a sentence per row)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._rows_seen = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows_seen = 0
            self.parts.append("\n")
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in _BLOCKS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()).replace("|", "/"))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.parts.append("\n| " + " | ".join(self._row) + " |\n")
                if self._rows_seen == 0:  # the header's rule, as Markdown writes it
                    self.parts.append("|" + "---|" * len(self._row) + "\n")
                self._rows_seen += 1
            self._row = None
        elif tag == "table" or tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._row is None:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Shopify's Body (HTML) as plain text: blocks on their own lines, list items as "- ",
    tables as Markdown tables."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


# -- Shopify CSV ----------------------------------------------------------------------------

_REQUIRED = ("Handle", "Variant Price")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a price") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{text!r} is not a price")
    return value


def _options(row: dict[str, str], names: dict[int, str]) -> dict[str, str]:
    options = {}
    for n in (1, 2, 3):
        name = (row.get(f"Option{n} Name") or "").strip() or names.get(n, "")
        value = (row.get(f"Option{n} Value") or "").strip()
        if name:
            names[n] = name
        # Shopify writes a product without options as "Title: Default Title".
        if value and not (name == "Title" and value == "Default Title"):
            options[name or f"Option {n}"] = value
    return options


def read_shopify_csv(path: Path, problems: Problems) -> list[Product]:
    """One row per variant; rows sharing a Handle are one product whose product-level cells are
    filled on its first row. A bad row is reported and skipped; the others load."""
    name = path.name
    text = problems.read(path, name)
    if text is None:
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [column for column in _REQUIRED if column not in (reader.fieldnames or [])]
    if missing:
        problems.add(name, "row 1", f"missing column(s) {', '.join(missing)}; is this a Shopify product export?")
        return []

    products: dict[str, dict[str, Any]] = {}
    option_names: dict[str, dict[int, str]] = {}
    for index, row in enumerate(reader):
        where = f"row {index + 2}"  # as a spreadsheet numbers it, the header being row 1
        if None in row:
            problems.add(name, where, "more cells than the header has columns")
            continue
        row = {k: (v or "") for k, v in row.items()}
        handle = row["Handle"].strip()
        if not handle:
            problems.add(name, where, "no Handle")
            continue
        if not row["Variant Price"].strip() and not row.get("Variant SKU", "").strip():
            continue  # an extra image row: Shopify writes those without variant cells
        product = products.get(handle)
        if product is None:
            title = row.get("Title", "").strip()
            if not title:
                problems.add(name, where, f"first row of {handle!r} has no Title")
                products[handle] = {"broken": True}
                continue
            status = (row.get("Status") or "active").strip().lower()
            if status not in ("active", "draft", "archived"):
                problems.add(name, where, f"Status {status!r} is not active, draft or archived; taken as draft")
                status = "draft"
            product = products[handle] = {
                "id": handle,
                "title": title,
                "description": html_to_text(row.get("Body (HTML)", "")),
                "vendor": row.get("Vendor", "").strip(),
                "type": row.get("Type", "").strip(),
                "tags": [t.strip() for t in row.get("Tags", "").split(",") if t.strip()],
                "status": status,
                "published": row.get("Published", "true").strip().lower() not in ("false", "0", "no"),
                "variants": [],
                "where": where,
            }
        if product.get("broken"):
            continue
        try:
            price = _decimal(row["Variant Price"])
            compare = row.get("Variant Compare At Price", "").strip()
            stock_text = row.get("Variant Inventory Qty", "").strip()
            # No count (a gift card, a made-to-order print): not tracked, always orderable.
            stock = int(float(stock_text)) if stock_text else None
            policy = (row.get("Variant Inventory Policy") or "deny").strip().lower()
            variant = Variant(
                sku=row.get("Variant SKU", "").strip(),
                options=_options(row, option_names.setdefault(handle, {})),
                price=price,
                compare_at_price=_decimal(compare) if compare else None,
                stock=stock,
                inventory_policy="continue" if policy == "continue" else "deny",
            )
        except ValueError as exc:  # pydantic's ValidationError is a ValueError too
            problems.add(name, where, f"variant of {handle!r} skipped: {_reason(exc)}")
            continue
        product["variants"].append(variant)

    loaded = []
    for handle, fields in products.items():
        if fields.get("broken"):
            continue
        where = fields.pop("where")
        if not fields["variants"]:
            problems.add(name, where, f"product {handle!r} has no usable variant; skipped")
            continue
        loaded.append(Product(**fields))
    return loaded


# -- shopbot's JSONL ------------------------------------------------------------------------


def read_catalog_jsonl(path: Path, problems: Problems) -> list[Product]:
    name = path.name
    text = problems.read(path, name)
    if text is None:
        return []
    products = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            products.append(Product.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.add(name, f"line {number}", f"not JSON: {exc.msg}")
        except ValidationError as exc:
            problems.add(name, f"line {number}", _reason(exc))
    return products


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors())
    return str(exc)
