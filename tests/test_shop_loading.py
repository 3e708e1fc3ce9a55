"""Loading a store folder: the Shopify CSV export as Shopify writes it, shopbot's JSONL,
Markdown passages, orders and store.toml; every problem named with its file and row."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bot.knowledge.catalog import html_to_text
from bot.knowledge.passages import split_markdown
from bot.knowledge.shop import load_shop

HEADER = (
    "Handle,Title,Body (HTML),Vendor,Product Category,Type,Tags,Published,Option1 Name,Option1 Value,"
    "Option2 Name,Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Grams,Variant Inventory Tracker,"
    "Variant Inventory Qty,Variant Inventory Policy,Variant Fulfillment Service,Variant Price,"
    "Variant Compare At Price,Variant Requires Shipping,Variant Taxable,Variant Barcode,Image Src,"
    "Image Position,Image Alt Text,Gift Card,Status"
)


def row(**cells: str) -> str:
    columns = HEADER.split(",")
    values = []
    for column in columns:
        value = cells.get(column.replace(" ", "_").replace("(", "").replace(")", ""), "")
        values.append('"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value)
    return ",".join(values)


def product_rows() -> list[str]:
    body = (
        "<p>Keeps water <strong>cold</strong> for 24 h, hot for 12 h.</p>\n"
        '<ul><li>Leak-proof lid, "click" seal</li><li>750 ml &amp; BPA-free</li></ul>'
    )
    return [
        row(Handle="trail-bottle", Title="Trail Bottle 750 ml", Body_HTML=body, Vendor="Acme", Type="Bottles",
            Tags="hiking, gift", Published="TRUE", Option1_Name="Color", Option1_Value="Blue",
            Variant_SKU="TB-750-BLU", Variant_Inventory_Qty="12", Variant_Price="24.00",
            Variant_Compare_At_Price="29.00", Status="active"),
        row(Handle="trail-bottle", Option1_Value="Red", Variant_SKU="TB-750-RED", Variant_Inventory_Qty="0",
            Variant_Price="24.00", Variant_Compare_At_Price="29.00"),
        row(Handle="trail-bottle", Image_Src="https://cdn.example/tb2.jpg", Image_Position="2"),
        row(Handle="mug", Title="Camp Mug", Body_HTML="<p>Enamel</p>", Type="Kitchen", Published="TRUE",
            Option1_Name="Title", Option1_Value="Default Title", Variant_SKU="MUG-1", Variant_Price="14.00",
            Status="active"),
        row(Handle="secret-tent", Title="Prototype Tent", Published="TRUE", Variant_SKU="T-0", Variant_Price="450.00",
            Status="draft"),
        row(Handle="hidden-hat", Title="Hidden Hat", Published="FALSE", Variant_SKU="H-0", Variant_Price="20.00",
            Status="active"),
    ]  # fmt: skip


def write_shop(folder: Path, csv_rows: list[str] | None = None, bom: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "store.toml").write_text(
        'name = "Example Shop"\ncurrency = "USD"\ntimezone = "America/New_York"\n'
        'support_email = "help@example.com"\nsupport_hours = "Mon-Fri 9:00-17:00"\nvoice = "friendly, concise"\n'
    )
    text = "\n".join([HEADER, *(csv_rows if csv_rows is not None else product_rows())]) + "\n"
    (folder / "catalog.csv").write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    (folder / "policies").mkdir(exist_ok=True)
    (folder / "policies" / "returns.md").write_text(
        "# Returns\n\nWe want you to love it.\n\n## Return window\n\nReturn unused items within 30 days.\n\n"
        "## Refunds\n\nRefunds reach your card in 5 business days.\n"
    )
    (folder / "faq.md").write_text("## Do you ship abroad?\n\nYes, to 20 countries.\n\n## Gift wrap?\n\nFor $4.00.\n")
    order = {
        "order_id": "1042", "email": "ana@example.com", "status": "shipped", "placed_at": "2026-10-02T14:11:00Z",
        "items": [{"sku": "TB-750-BLU", "title": "Trail Bottle 750 ml", "qty": 2, "price": "24.00"}],
        "total": "48.00", "carrier": "UPS", "tracking": "1Z999AA10123456784", "eta": "2026-10-06",
    }  # fmt: skip
    (folder / "orders.jsonl").write_text(json.dumps(order) + "\n")
    return folder


def test_a_shopify_export_loads_with_variants_and_html(tmp_path: Path) -> None:
    shop = load_shop(write_shop(tmp_path / "shop"))
    assert shop.problems == []
    assert shop.profile.name == "Example Shop" and shop.profile.currency == "USD"
    products = {p.id: p for p in shop.products}
    bottle = products["trail-bottle"]
    assert bottle.title == "Trail Bottle 750 ml" and bottle.vendor == "Acme" and bottle.tags == ["hiking", "gift"]
    assert [v.sku for v in bottle.variants] == ["TB-750-BLU", "TB-750-RED"], "the image row is not a variant"
    blue, red = bottle.variants
    assert blue.options == {"Color": "Blue"} and red.options == {"Color": "Red"}, "option names carry over"
    assert blue.price == Decimal("24.00") and isinstance(blue.price, Decimal) and blue.on_sale
    assert blue.in_stock and not red.in_stock
    assert bottle.description == (
        'Keeps water cold for 24 h, hot for 12 h.\n- Leak-proof lid, "click" seal\n- 750 ml & BPA-free'
    )
    assert products["mug"].variants[0].options == {}, "Shopify's Default Title is no option"


def test_only_active_published_products_are_offered(tmp_path: Path) -> None:
    shop = load_shop(write_shop(tmp_path / "shop"))
    assert {p.id for p in shop.products} == {"trail-bottle", "mug", "secret-tent", "hidden-hat"}
    assert {p.id for p in shop.offered} == {"trail-bottle", "mug"}


def test_a_byte_order_mark_does_not_hide_the_handle_column(tmp_path: Path) -> None:
    shop = load_shop(write_shop(tmp_path / "shop", bom=True))
    assert shop.problems == [] and len(shop.products) == 4


def test_bad_rows_are_reported_with_their_row_and_the_rest_loads(tmp_path: Path) -> None:
    rows = product_rows()
    rows.insert(1, row(Handle="trail-bottle", Option1_Value="Green", Variant_SKU="TB-GRN", Variant_Price="twenty"))
    rows.append(row(Handle="", Title="No handle", Variant_Price="5.00"))
    rows.append(row(Handle="free", Title="Negative", Variant_Price="-3.00", Status="active", Published="TRUE"))
    rows.append(row(Handle="weird", Title="Weird status", Variant_Price="3.00", Status="hidden", Published="TRUE"))
    shop = load_shop(write_shop(tmp_path / "shop", rows))
    messages = [str(p) for p in shop.problems]
    assert any(m.startswith("catalog.csv, row 3:") and "'twenty' is not a price" in m for m in messages), messages
    assert any("no Handle" in m for m in messages)
    assert any("'-3.00' is not a price" in m for m in messages)
    assert any("no usable variant" in m and "'free'" in m for m in messages)
    assert any("'hidden' is not active" in m for m in messages)
    assert [v.sku for v in next(p for p in shop.products if p.id == "trail-bottle").variants] == [
        "TB-750-BLU",
        "TB-750-RED",
    ]
    weird = next(p for p in shop.products if p.id == "weird")
    assert not weird.offered, "an unknown status is never offered"


def test_missing_columns_name_the_file(tmp_path: Path) -> None:
    folder = write_shop(tmp_path / "shop")
    (folder / "catalog.csv").write_text("Name,Cost\nBottle,24.00\n")
    shop = load_shop(folder)
    assert [str(p) for p in shop.problems] == [
        "catalog.csv, row 1: missing column(s) Handle, Variant Price; is this a Shopify product export?",
        "catalog.csv: no catalog.csv or catalog.jsonl with products",
    ]
    assert len(shop.passages) == 5 and len(shop.orders) == 1, "the rest of the folder still loads"


def test_catalog_jsonl_takes_decimal_strings_and_reports_floats(tmp_path: Path) -> None:
    folder = write_shop(tmp_path / "shop")
    good = {"id": "poles", "title": "Trekking Poles", "variants": [{"sku": "TP-1", "price": "59.00", "stock": 3}]}
    floaty = {"id": "sack", "title": "Stuff Sack", "variants": [{"sku": "SS", "price": 9.5}]}
    (folder / "catalog.jsonl").write_text(
        json.dumps(good)
        + "\n"
        + json.dumps(floaty)
        + "\n{not json\n"
        + json.dumps({"id": "mug", "title": "Dup", "variants": [{"price": "1.00"}]})
        + "\n"
    )
    shop = load_shop(folder)
    messages = [str(p) for p in shop.problems]
    assert any(m.startswith("catalog.jsonl, line 2:") and "decimal strings" in m for m in messages), messages
    assert any(m.startswith("catalog.jsonl, line 3:") and "not JSON" in m for m in messages)
    assert any("'mug' is already in the catalog" in m for m in messages)
    poles = next(p for p in shop.products if p.id == "poles")
    assert poles.variants[0].price == Decimal("59.00")


def test_markdown_is_split_on_headings_with_file_and_heading_as_source(tmp_path: Path) -> None:
    shop = load_shop(write_shop(tmp_path / "shop"))
    refs = [(p.ref, p.text) for p in shop.passages]
    assert refs == [
        ("policies/returns.md#Returns", "We want you to love it."),
        ("policies/returns.md#Return window", "Return unused items within 30 days."),
        ("policies/returns.md#Refunds", "Refunds reach your card in 5 business days."),
        ("faq.md#Do you ship abroad?", "Yes, to 20 countries."),
        ("faq.md#Gift wrap?", "For $4.00."),
    ]
    fenced = split_markdown("Intro\n```\n# not a heading\n```\n## Real\ntext", "x.md", title="X")
    assert [(p.heading, p.text) for p in fenced] == [("X", "Intro\n```\n# not a heading\n```"), ("Real", "text")]


async def test_orders_load_and_bad_lines_are_reported(tmp_path: Path) -> None:
    folder = write_shop(tmp_path / "shop")
    with (folder / "orders.jsonl").open("a") as f:
        f.write('{"order_id": "1043", "email": "not-an-email", "status": "shipped"}\n')
        lost = {"order_id": "1044", "email": "b@example.com", "status": "lost", "placed_at": "2026-10-01T00:00:00Z",
                "items": [{"title": "x", "qty": 1, "price": "1.00"}], "total": "1.00"}  # fmt: skip
        f.write(json.dumps(lost) + "\n")
    shop = load_shop(folder)
    order = await shop.orders.get("1042")
    assert order is not None and order.total == Decimal("48.00") and order.belongs_to("ANA@example.com ")
    assert await shop.orders.get("#1042") == order
    assert await shop.orders.get("9999") is None
    lines = [p.where for p in shop.problems if p.file == "orders.jsonl"]
    assert lines == ["line 2", "line 3"]


def test_a_bad_store_toml_keeps_what_is_valid(tmp_path: Path) -> None:
    folder = write_shop(tmp_path / "shop")
    (folder / "store.toml").write_text('name = "Shop"\ncurrency = "dollars"\ntimezone = "Mars/Olympus"\n')
    shop = load_shop(folder)
    assert shop.profile.name == "Shop" and shop.profile.currency == "USD" and shop.profile.timezone == "UTC"
    assert {p.where for p in shop.problems} == {"key currency", "key timezone"}
    (folder / "store.toml").write_text("name = ")
    assert "cannot read it as TOML" in str(load_shop(folder).problems[0])


def test_html_is_stripped_to_readable_text() -> None:
    assert html_to_text("<h2>Fit</h2><p>True to size,<br>roomy toes.</p><p>Care: hand wash &amp; dry</p>") == (
        "Fit\nTrue to size,\nroomy toes.\nCare: hand wash & dry"
    )


def test_import_prints_what_loaded_and_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    rows = product_rows()
    rows.insert(1, row(Handle="trail-bottle", Option1_Value="Green", Variant_SKU="TB-GRN", Variant_Price="twenty"))
    folder = write_shop(tmp_path / "shop", rows)
    assert main(["import", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "products: 4 loaded, 2 offered (3 variants)" in out and "orders:   1" in out
    assert "catalog.csv, row 3: variant of 'trail-bottle' skipped: 'twenty' is not a price" in out
    assert main(["import", "--strict", str(folder)]) == 1
    assert main(["import", str(tmp_path / "missing")]) == 2


CORPUS = Path(__file__).parent / "corpus"


async def test_shops_load_as_their_platforms_export_them() -> None:
    """The small corpus's shops, written from the store format alone, load without a problem:
    empty optional fields are absent, Shopify's status words are read, "continue" sells on."""
    lantern, fjord, surf = (load_shop(CORPUS / name) for name in ("lantern-books", "fjord-wool", "tidal-surf"))
    for shop in (lantern, fjord, surf):
        assert shop.problems == [], shop.summary()
    # Shopify's fulfilment words as statuses; a cancelled order's "eta": "" is no date.
    assert {o.status for o in lantern.orders.all()} <= {"shipped", "processing", "cancelled"}
    cancelled = await fjord.orders.get("FW-2044")
    assert cancelled is not None and cancelled.status == "cancelled" and cancelled.eta is None
    # "Variant Inventory Policy: continue": none left, and still orderable.
    backorder = [v for p in lantern.offered for v in p.variants if v.inventory_policy == "continue"]
    assert backorder and all(v.orderable and not v.in_stock for v in backorder if v.stock is not None and v.stock <= 0)
    # A gift card with a blank quantity is not tracked, so never out of stock.
    gift = next(p for p in lantern.offered if "Gift Card" in p.title)
    assert all(v.stock is None and v.in_stock for v in gift.variants)
    # Option names only on a product's first row still name every row's options.
    board = next(p for p in surf.offered if p.title == "Reef Break Shortboard")
    assert {tuple(v.options) for v in board.variants} == {tuple(board.variants[0].options)}
    # Drafts and archived products are known (to be refused by name) and never offered.
    assert len(fjord.offered) < len(fjord.products) and len(lantern.offered) < len(lantern.products)
    assert fjord.profile.locale == "de_DE"


def test_a_store_toml_locale_must_look_like_one(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "store.toml").write_text('name = "X"\ncurrency = "EUR"\nlocale = "german please"\n')
    shop = load_shop(folder)
    assert any("locale" in str(problem) for problem in shop.problems) and shop.profile.locale == ""
